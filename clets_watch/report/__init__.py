"""The audit report (``clets-watch report``): HTML with inline SVG charts, a CSV per chart, PDF when possible."""
