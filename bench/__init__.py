"""Performance benchmark of the CGH CDS service: ``bench/run`` (see ``bench/README.md``)."""
