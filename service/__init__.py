"""The citeqa service: retrieval, answering, citation checking and the web layer."""
