"""HTTP layer: Flask blueprints (CDS endpoints, docs, operations, analytics) and the error handlers."""
