"""Reading template.yaml: resources, functions with their merged Globals, and intrinsics."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub...) as long-form dicts."""


def _short_form(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _short_form)


class Unsupported(ValueError):
    """The template uses something the local stack cannot reproduce: it must not pass silently."""


def load(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # API Gateway resource path, e.g. /v3/segments/{segment_id}


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any]
    memory_mb: int
    timeout_seconds: int
    routes: list[Route] = field(default_factory=list)
    queues: list[tuple[str, int]] = field(default_factory=list)  # SQS event sources: (logical id, batch size)
    scheduled: bool = False  # has a Schedule event: the local stack runs it every few seconds


def functions(template: dict) -> list[Function]:
    """Every AWS::Serverless::Function with Globals merged in, as SAM would."""
    global_props = template.get("Globals", {}).get("Function", {})
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        environment = {
            **global_props.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        routes, queues, scheduled = [], [], False
        for name, event in props.get("Events", {}).items():
            if event["Type"] == "Api":
                routes.append(Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
            elif event["Type"] == "SQS":
                source = event["Properties"]
                queues.append((source["Queue"]["Fn::GetAtt"][0], int(source.get("BatchSize", 10))))
            elif event["Type"] == "Schedule":
                scheduled = True
            else:
                raise Unsupported(
                    f"{logical_id}.Events.{name} is of type {event['Type']!r}: the local stack runs Api, SQS "
                    "and Schedule events only; teach local/ to run it before using it"
                )
        found.append(
            Function(
                logical_id=logical_id,
                code_dir=ROOT / props.get("CodeUri", global_props.get("CodeUri", "")),
                handler=props.get("Handler", global_props.get("Handler")),
                environment=environment,
                memory_mb=int(props.get("MemorySize", global_props.get("MemorySize", 128))),
                timeout_seconds=int(props.get("Timeout", global_props.get("Timeout", 3))),
                routes=routes,
                queues=queues,
                scheduled=scheduled,
            )
        )
    return found


class Intrinsics:
    """Resolves the intrinsic functions this template uses, against local physical names."""

    def __init__(self, refs: dict[str, str], attributes: dict[tuple[str, str], str]) -> None:
        self.refs = refs
        self.attributes = attributes

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        [(name, argument)] = value.items()
        match name:
            case "Ref":
                return self._known(self.refs, argument, f"Ref {argument}")
            case "Fn::GetAtt":
                return self._known(self.attributes, (argument[0], argument[1]), f"Fn::GetAtt {'.'.join(argument)}")
            case "Fn::Join":
                separator, parts = argument
                return separator.join(str(part) for part in self.resolve(parts))
            case "Fn::Split":
                separator, text = argument
                return self.resolve(text).split(separator)
            case "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            case "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), argument)
        if name.startswith("Fn::"):
            raise Unsupported(f"{name} is not an intrinsic the local stack resolves: add it to local/template.py")
        return {name: self.resolve(argument)}

    def _sub(self, name: str) -> str:
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return self._known(self.attributes, (logical_id, attribute), f"${{{name}}}")
        return self._known(self.refs, name, f"${{{name}}}")

    @staticmethod
    def _known(table: dict, key, what: str):
        if key not in table:
            raise Unsupported(f"{what}: the local stack knows no such resource, parameter or attribute")
        return table[key]
