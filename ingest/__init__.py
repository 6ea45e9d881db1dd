"""Ingestion: loading files into documents, chunking them, embedding and indexing the chunks."""
