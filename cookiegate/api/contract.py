"""The API's contract, made from code.

Each view declares its operation with `@operation(...)`: pydantic models for its query, headers,
cookies and body, and the answers it gives. `describe(app)` builds the OpenAPI description from
the app's URL map once, when the app is created, so a route is described exactly as it is served
(its path, its methods) and the models that describe a request are the ones that check it
(`check()`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Optional, Union

from flask import Flask
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Schema:
    """A JSON schema that is not a model (the receipt's, proof/receipt.py), named as a component."""

    name: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Header:
    description: str
    schema: dict[str, Any]
    required: bool = True


@dataclass(frozen=True)
class Answer:
    description: str
    # A model, a named schema, a plain schema, or several models (any of them).
    model: Union[type[BaseModel], Schema, dict[str, Any], tuple[type[BaseModel], ...], None] = None
    media: str = "application/json"
    headers: Mapping[str, Header] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    summary: str
    answers: Mapping[int, Answer]
    description: str = ""
    query: Optional[type[BaseModel]] = None
    headers: Optional[type[BaseModel]] = None
    cookies: Optional[type[BaseModel]] = None
    body: Optional[type[BaseModel]] = None
    body_required: bool = True
    body_description: str = ""
    body_media: tuple[str, ...] = ("application/json", "text/plain")
    security: Optional[list[dict[str, list[str]]]] = None
    # A per-site route of the browser API also answers a CORS preflight (api/cors.py).
    preflight: bool = False


def operation(**described: Any) -> Callable:
    def attach(view: Callable) -> Callable:
        view.operation = Operation(**described)  # type: ignore[attr-defined]
        return view

    return attach


class Parameters(BaseModel):
    """Query, header and cookie parameters: strings; unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    # What a bad value of a field is called, in our words (pydantic's are about Python types).
    MESSAGES: ClassVar[dict[str, str]] = {}


class Body(BaseModel):
    """A JSON request body: strict types (no "1" for 1, no 1.0 for 1); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)
    MESSAGES: ClassVar[dict[str, str]] = {}


class Refused(ValueError):
    """One refused field: its name as the client sends it, and a message that does not echo the value."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name
        self.message = message


def _message(model: type[BaseModel], error: dict[str, Any]) -> Refused:
    loc = error["loc"]
    name = str(loc[0]) if loc else "body"
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return Refused(name, f"'{name}' is required.")
    known = getattr(model, "MESSAGES", {}).get(name)
    if known:
        return Refused(name, known)
    generic = {
        "bool_type": "must be true or false",
        "string_type": "must be a string",
        "dict_type": "must be an object",
        "literal_error": f"must be one of: {ctx.get('expected', '')}",
        "string_too_long": f"is longer than {ctx.get('max_length')} characters",
    }.get(kind)
    if generic is None and kind.startswith(("int_", "greater_than", "less_than")):
        generic = "must be a whole number"
    return Refused(name, f"'{name}' {generic or 'is not valid'}.")


def check(model: type[BaseModel], data: Any) -> Any:
    """`data` as an instance of `model`, or Refused naming the first field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _message(model, error.errors(include_input=False, include_url=False)[0]) from None


# --- the description -------------------------------------------------------------------------

_PATH_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _tidy(node: Any, *, names: bool = False) -> Any:
    """Pydantic's schema less what only clutters a description: titles and `default: null`."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    if names:  # the keys of `properties` are field names, not keywords
        return {key: _tidy(value) for key, value in node.items()}
    return {
        key: _tidy(value, names=key in ("properties", "$defs", "patternProperties"))
        for key, value in node.items()
        if key != "title" and not (key == "default" and value is None)
    }


class _Components:
    """The models an operation names, turned into `#/components/schemas` once at the end."""

    def __init__(self) -> None:
        self.models: dict[str, tuple[type[BaseModel], str]] = {}
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, model: Any, mode: str) -> dict[str, Any]:
        if isinstance(model, tuple):
            return {"anyOf": [self.ref(one, mode) for one in model]}
        if isinstance(model, dict):
            return model
        if isinstance(model, Schema):
            self.schemas[model.name] = model.schema
            return {"$ref": REF.format(model=model.name)}
        self.models[model.__name__] = (model, mode)
        return {"$ref": REF.format(model=model.__name__)}

    def build(self) -> dict[str, Any]:
        _, top = models_json_schema([(m, mode) for m, mode in self.models.values()], ref_template=REF)  # type: ignore[arg-type]
        return {**_tidy(top.get("$defs", {}), names=True), **self.schemas}


def _parameters(model: Optional[type[BaseModel]], where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = _tidy(model.model_json_schema(by_alias=True))
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.pop("description", None)
        parameter = {"name": name, "in": where, "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        out.append(parameter)
    return out


def _answers(op: Operation, components: _Components, always: Mapping[int, Answer]) -> dict[str, Any]:
    out = {}
    for status, answer in sorted({**always, **op.answers}.items()):
        described: dict[str, Any] = {"description": answer.description}
        if answer.headers:
            described["headers"] = {
                name: {"description": h.description, "required": h.required, "schema": h.schema} for name, h in answer.headers.items()
            }
        if answer.model is not None:
            described["content"] = {answer.media: {"schema": components.ref(answer.model, "serialization")}}
        out[str(status)] = described
    return out


def _operation(op: Operation, components: _Components, always: Mapping[int, Answer]) -> dict[str, Any]:
    described: dict[str, Any] = {"summary": op.summary}
    if op.description:
        described["description"] = op.description
    parameters = _parameters(op.query, "query") + _parameters(op.headers, "header") + _parameters(op.cookies, "cookie")
    if parameters:
        described["parameters"] = parameters
    if op.body is not None:
        schema = components.ref(op.body, "validation")
        described["requestBody"] = {
            "required": op.body_required,
            **({"description": op.body_description} if op.body_description else {}),
            "content": {media: {"schema": schema} for media in op.body_media},
        }
    if op.security is not None:
        described["security"] = op.security
    described["responses"] = _answers(op, components, always)
    return described


def describe(app: Flask, info: dict[str, Any], path_parameters: dict[str, dict[str, Any]],
             preflight: Callable[[str], Operation], always: Mapping[int, Answer],
             components_extra: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route whose view declares an operation; `always`: answers
    any operation can give (added where the operation does not describe that status itself)."""
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        op: Optional[Operation] = getattr(view, "operation", None)
        if op is None:
            continue
        path = _PATH_VARIABLE.sub(r"{\1}", rule.rule)
        item = paths.setdefault(path, {})
        variables = _PATH_VARIABLE.findall(rule.rule)
        if variables:
            item["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": path_parameters[name]} for name in variables
            ]
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            item[method.lower()] = _operation(op, components, always)
        if op.preflight:
            allowed = ", ".join([*methods, "OPTIONS"])
            item["options"] = _operation(preflight(allowed), components, always)
    return {
        "openapi": "3.1.0",
        "info": info,
        "paths": paths,
        "components": {"schemas": components.build(), **components_extra},
    }
