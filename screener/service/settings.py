"""Service settings: one pydantic model, read from the environment, shared by the API and the page."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from screener.screening import DEFAULT_THRESHOLD

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8350


class Settings(BaseModel):
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    threshold: float = DEFAULT_THRESHOLD
    lists: list[str] = Field(default_factory=lambda: ["default"])
    db_url: str | None = Field(default=None, description="audit store URL; default SQLite under SCREENER_HOME")
    api_keys: list[str] = Field(default_factory=list, description="plain keys from SCREENER_API_KEYS")
    api_keys_file: str | None = Field(default=None, description="file of hashed keys, one per line")
    max_body_bytes: int = 5 * 1024 * 1024  # JSON requests
    max_upload_bytes: int = 50 * 1024 * 1024  # uploaded spreadsheets
    max_upload_rows: int = 1_000_000
    max_batch_parties: int = 10_000
    session_hours: float = 8.0
    secret_key: str | None = Field(default=None, description="signs sessions; random per process if unset")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {}
        if env.get("SCREENER_API_KEYS"):
            values["api_keys"] = [k.strip() for k in env["SCREENER_API_KEYS"].split(",") if k.strip()]
        if env.get("SCREENER_API_KEYS_FILE"):
            values["api_keys_file"] = env["SCREENER_API_KEYS_FILE"]
        if env.get("SCREENER_DB"):
            values["db_url"] = env["SCREENER_DB"]
        if env.get("SCREENER_THRESHOLD"):
            values["threshold"] = float(env["SCREENER_THRESHOLD"])
        if env.get("SCREENER_LISTS"):
            values["lists"] = [n.strip() for n in env["SCREENER_LISTS"].split(",") if n.strip()]
        if env.get("SCREENER_SECRET_KEY"):
            values["secret_key"] = env["SCREENER_SECRET_KEY"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
