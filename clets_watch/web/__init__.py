"""The on-call console behind ``clets-watch serve``: server-rendered pages and a JSON API over the
database the sinks write (alerts and their ledgers, agency traffic, access recommendations,
disclosure filings), with logins and roles from a users file."""
