"""reach2revenue."""
