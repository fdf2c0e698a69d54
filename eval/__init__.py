"""Independent measurement tools, kept apart from the product: the service and workers never import this."""
