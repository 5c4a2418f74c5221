"""Clinical governance: the modes a site runs each recommendation in (``modes``), and the terminology review
report with the rules that use each code (``terminology_report``, ``usage``)."""
