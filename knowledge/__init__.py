"""Knowledge lexicons and entity matching: the units of Knowledge-based Dynamic Masking (KDM).

Imports only `schemas/`: nothing of Beam or of `pipeline/`. Text normalisation is passed in by the
caller, so entries are normalised exactly as the cleaner normalises documents.
"""
