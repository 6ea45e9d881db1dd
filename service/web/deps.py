"""FastAPI dependencies: the parts built by the lifespan, read from app state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.components import Components


def get_components(request: Request) -> Components:
    return request.app.state.components


ComponentsDep = Annotated[Components, Depends(get_components)]
