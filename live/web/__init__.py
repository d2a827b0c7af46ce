"""The web edge: the Starlette app, its HTTP routes, websockets, pages, middleware, request
schemas and the one uvicorn configuration."""
