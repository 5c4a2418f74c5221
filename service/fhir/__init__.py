"""FHIR data access: prefetch resolution, fallback fetch from ``fhirServer``, and the ``PatientRecord``."""
