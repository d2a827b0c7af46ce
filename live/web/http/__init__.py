"""HTTP edges: the JSON API and the pages."""
