"""The pure core of clets-watch (classification, windows, rules) and the Faust adapter around it.

Nothing in this package except ``processors.app`` imports Kafka or a database.
"""
