"""Names the server and its clients share, importable without loading the server."""

MODEL_ALIAS = "forge"
ADMIN_TOKEN_ENV = "FORGE_ADMIN_TOKEN"
API_KEY_ENV = "FORGE_API_KEY"
