"""Operator CLI: tenants, identifiers, API keys, audiences and privacy requests, on the local stack or a
deployed one.

    python -m audiences.admin --local tenants create acme
    python -m audiences.admin --stack passthrough-audiences keys create acme --scope private

It talks to DynamoDB directly with your AWS credentials: it is for whoever operates the
deployment, not for tenants (they use the API with their keys).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from audiences.settings import Settings, SettingsError
from audiences.wiring import stores


class AdminError(Exception):
    """Something the operator can fix; the message says what."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m audiences.admin",
        description="Manage tenants, identifier fields, API keys and audiences.",
        epilog="Without --local or --stack, the resource names come from the variables "
        + ", ".join(resource.variable for resource in Settings.resources())
        + ", and AWS from the usual AWS_* variables.",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--local", action="store_true", help="the stack `make run` started (reads .local/demo.env)")
    target.add_argument("--stack", metavar="NAME", help="a deployed stack: its outputs name the tables")
    parser.add_argument("--region", help="AWS region of --stack (default: your AWS configuration)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tenants = commands.add_parser("tenants", help="create and list tenants").add_subparsers(
        dest="action", required=True
    )
    create = tenants.add_parser("create", help="create a tenant")
    create.add_argument("tenant", help="tenant id: a-z, 0-9, - and _, starting with a letter or digit")
    create.add_argument(
        "--identifier",
        action="append",
        metavar="NAME=high|low",
        help="an identifier field and its merge confidence (repeatable; default fs_user_id=high)",
    )
    tenants.add_parser("list", help="list tenants and their identifier fields")

    identifiers = commands.add_parser("identifiers", help="add identifier fields").add_subparsers(
        dest="action", required=True
    )
    add = identifiers.add_parser("add", help="add an identifier field to a tenant")
    add.add_argument("tenant")
    add.add_argument("name", help="field name, e.g. loyalty_number")
    add.add_argument("--confidence", choices=["high", "low"], required=True, help="merge confidence")
    add.add_argument("--display-name", default="", help="shown to people (default: none)")

    identity_map = commands.add_parser(
        "identity-map", help="which identifier field a source's user id and traits stand for (Segment's calls)"
    ).add_subparsers(dest="action", required=True)
    identity_map.add_parser("show", help="the tenant's identity map").add_argument("tenant")
    set_map = identity_map.add_parser("set", help="replace the tenant's identity map")
    set_map.add_argument("tenant")
    set_map.add_argument("--user-id", required=True, metavar="FIELD", help="the identifier field userId is")
    set_map.add_argument(
        "--trait",
        action="append",
        default=[],
        metavar="TRAIT=FIELD",
        help="a trait naming the user when there is no userId, tried in order (repeatable; none: userId only)",
    )

    keys = commands.add_parser("keys", help="create, list and revoke API keys").add_subparsers(
        dest="action", required=True
    )
    new_key = keys.add_parser("create", help="create a key; it is printed once and never stored")
    new_key.add_argument("tenant")
    new_key.add_argument("--scope", choices=["public", "private"], required=True)
    keys.add_parser("list", help="list a tenant's keys by id").add_argument("tenant")
    revoke = keys.add_parser("revoke", help="revoke a key (effective within AUTH_CACHE_SECONDS)")
    revoke.add_argument("tenant")
    revoke.add_argument("key_id", help="as `keys list` shows it")

    audiences = commands.add_parser("audiences", help="list audiences, migrate older ones").add_subparsers(
        dest="action", required=True
    )
    audiences.add_parser("list", help="a tenant's audiences with their ids and exact sizes").add_argument("tenant")
    audiences.add_parser(
        "migrate",
        help="give audiences made before ids were addressable their id claim and creation order "
        "(every tenant; safe to run again, or from two places at once)",
    )
    privacy = commands.add_parser(
        "privacy", help="erase, suppress, lift or export data subjects; see requests' status"
    ).add_subparsers(dest="action", required=True)
    for action, text in PRIVACY_ACTIONS.items():
        request = privacy.add_parser(action, help=text)
        request.add_argument("tenant")
        request.add_argument("subjects", nargs="+", metavar="FIELD=VALUE", help="a subject: identifier field and value")
    status = privacy.add_parser("status", help="the tenant's privacy requests, or one of them in full")
    status.add_argument("tenant")
    status.add_argument("request_id", nargs="?", help="a request's id (as listed)")
    privacy.add_parser(
        "wrap-secrets",
        help="wrap with KMS every tenant's secret stored in clear before secrets were wrapped "
        "(once, after upgrading; safe to run again, or from two places at once)",
    )
    save = privacy.add_parser(
        "save-erasures",
        help="before restoring the tables to TIME: save every privacy request changed since, with the marks "
        "as they are now, to FILE (no identifier in clear); see docs/operations.md",
    )
    save.add_argument("--since", required=True, metavar="TIME", help="the restore point, e.g. 2025-06-01T12:00:00Z")
    save.add_argument("file", metavar="FILE")
    replay = privacy.add_parser(
        "replay-erasures",
        help="after restoring: put back what FILE saved and run again every erasure the restore undid",
    )
    replay.add_argument("file", metavar="FILE")
    return parser


PRIVACY_ACTIONS = {
    "delete": "erase memberships and purge every stored copy, suppressing them from then on",
    "suppress": "drop the subjects' later events and rows, keeping what is stored",
    "unsuppress": "count the subjects' events and rows again",
    "export": "write what is held about the subjects to a ZIP (see status for its URL)",
}


def _subjects(specs: list[str]):
    from audiences.ports.privacy import Subject

    subjects = []
    for spec in specs:
        field, _, value = spec.partition("=")
        if not field or not value:
            raise AdminError(f"subject {spec!r}: use FIELD=VALUE, e.g. email=jane@example.com")
        subjects.append(Subject(field, value))
    return subjects


def _privacy_request(tenant_id: str, action: str, specs: list[str]) -> None:
    from audiences.domain import OPERATOR
    from audiences.ports.privacy import Kind
    from audiences.privacy import requests

    kind = {"delete": Kind.SUPPRESS_WITH_DELETE, "suppress": Kind.SUPPRESS, "unsuppress": Kind.UNSUPPRESS}.get(
        action, Kind.ACCESS
    )
    tenant = stores().tenants.get_tenant(tenant_id)
    submitted = requests.submit(
        tenant, kind, _subjects(specs), origin=OPERATOR, created_by=OPERATOR, keep_days=90, export_name="export.json"
    )
    print(f"{submitted.request.request_id}	{kind.value}	queued; see: privacy status {tenant_id} <id>")


def _privacy_status(tenant_id: str, request_id: str | None) -> None:
    from datetime import UTC, datetime

    from audiences.privacy import jobs, requests

    def when(moment: float | None) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment else "-"

    if request_id is None:
        print("id	kind	asked through	status	subjects	created	finished")
        for r in requests.every(tenant_id):
            print(
                f"{r.request_id}	{r.kind.value}	{r.origin}	{r.status.value}	{r.subject_count}"
                f"	{when(r.created_at)}	{when(r.finished_at)}"
            )
        return
    found = requests.get(tenant_id, request_id)
    request = found.request
    print(f"{request.request_id}	{request.kind.value}	{request.status.value}	step {request.step or '-'}")
    for subject in found.subjects:
        print(f"subject	{subject.field}={subject.value}")
    for name, value in sorted(request.results.items()):
        print(f"{name}	{value}")
    if url := jobs.download_url(request):
        print(f"download (1 hour)	{url}")


def _instant(text: str) -> float:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise AdminError(f"--since {text!r}: use an ISO 8601 time, e.g. 2025-06-01T12:00:00Z") from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _save_erasures(since: float, file: str) -> None:
    import json

    from audiences.stores import privacy as privacy_table  # the table's items, as a restore needs them

    tenants = requests = 0
    with open(file, "w") as out:
        for tenant in stores().tenants.list_tenants():
            if (saved := privacy_table.saved_since(tenant.tenant_id, since)) is not None:
                out.write(json.dumps(saved) + "\n")
                tenants, requests = tenants + 1, requests + len(saved["requests"])
    print(f"saved {requests} privacy requests of {tenants} tenants to {file}; after restoring: replay-erasures {file}")


def _replay_erasures(file: str) -> None:
    import json
    import time

    from audiences.privacy import requests
    from audiences.stores import privacy as privacy_table

    try:
        lines = Path(file).read_text().splitlines()
    except OSError as error:
        raise AdminError(f"cannot read {file}: {error.strerror}") from error
    for line in lines:
        saved = json.loads(line)
        queued = privacy_table.restore_saved(saved, time.time())
        for request_id in queued:
            requests.queue_job(saved["tenant"], request_id)
        print(f"{saved['tenant']}\t{len(saved['requests'])} requests saved\t{len(queued)} run again")


def _point_at_target(args: argparse.Namespace) -> None:
    """Set the environment the audiences package reads, before it is imported."""
    if args.local:
        env_file = Path(os.environ.get("LOCAL_STATE_DIR") or Path.cwd() / ".local") / "demo.env"
        if not env_file.is_file():
            raise AdminError(f"{env_file} does not exist: start the local stack with `make run` first")
        for line in env_file.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            os.environ[name] = value
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):  # your real AWS identity has no business here
            os.environ.pop(name, None)
        os.environ.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        _check_answers(os.environ.get("AWS_ENDPOINT_URL", ""))
    elif args.stack:
        from audiences.stores.stack import outputs

        found, region = outputs(args.stack, args.region)
        wanted = Settings.resources()
        missing = [resource.output for resource in wanted if resource.output not in found]
        if missing:
            raise AdminError(f"stack {args.stack!r} has no output(s) {', '.join(missing)}: is it this application?")
        os.environ.update({resource.variable: found[resource.output] for resource in wanted})
        os.environ["AWS_REGION"] = region  # the tables are where the stack is, whatever the default region


def _check_answers(endpoint_url: str) -> None:
    """A refused connection to the local stack, said plainly instead of after botocore's retries."""
    endpoint = urlsplit(endpoint_url)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port), timeout=2).close()
    except (OSError, TypeError, ValueError) as error:
        where = endpoint_url or "(demo.env names no AWS_ENDPOINT_URL)"
        raise AdminError(f"no local stack answers on {where}: start `make run`") from error


def _identifiers(specs: list[str] | None):
    from audiences.domain import IDENTIFIER_FIELD, Confidence, Identifier

    identifiers = {}
    for spec in specs or ["fs_user_id=high"]:
        name, _, level = spec.partition("=")
        if not IDENTIFIER_FIELD.fullmatch(name) or level not in ("high", "low"):
            raise AdminError(f"--identifier {spec!r}: use NAME=high or NAME=low, NAME of a-z, 0-9 and _")
        identifiers[name] = Identifier(name, Confidence(level))
    return identifiers


def _identity_map(user_id: str, trait_specs: list[str]):
    from audiences.domain import IdentityMap

    traits = []
    for spec in trait_specs:
        trait, _, field = spec.partition("=")
        if not trait or not field:
            raise AdminError(f"--trait {spec!r}: use TRAIT=FIELD, e.g. email=email")
        traits.append((trait, field))
    return IdentityMap(user_id, tuple(traits))


def _show_identity_map(tenant) -> None:
    print(f"userId\t{tenant.identity_map.user_id}")
    for trait, field in tenant.identity_map.traits:
        print(f"traits.{trait}\t{field}")


def _run(args: argparse.Namespace) -> None:
    from audiences import auth, catalog, memberships, tenants
    from audiences.domain import TENANT_ID, Confidence, Identifier, Principal, Scope, Tenant

    if getattr(args, "tenant", None) and args.command != "tenants" and stores().tenants.get_tenant(args.tenant) is None:
        raise AdminError(f"tenant {args.tenant!r} does not exist (see: tenants list)")
    match args.command, args.action:
        case "tenants", "create":
            if not TENANT_ID.fullmatch(args.tenant):
                raise AdminError(f"tenant id {args.tenant!r} is invalid: use a-z, 0-9, - and _ (at most 63)")
            stores().tenants.create_tenant(Tenant(args.tenant, _identifiers(args.identifier)))
            print(f"created tenant {args.tenant}; next: keys create {args.tenant} --scope private")
        case "tenants", "list":
            for tenant in stores().tenants.list_tenants():
                fields = ", ".join(f"{i.name}={i.merge_confidence.value}" for i in tenant.identifiers.values())
                print(f"{tenant.tenant_id}\t{fields}")
        case "identifiers", "add":
            identifier = Identifier(args.name, Confidence(args.confidence), display_name=args.display_name)
            tenants.add_identifier(args.tenant, identifier)
            print(f"added {args.name} ({args.confidence}) to {args.tenant}; in use within AUTH_CACHE_SECONDS")
        case "identity-map", "show":
            _show_identity_map(stores().tenants.get_tenant(args.tenant))
        case "identity-map", "set":
            tenants.set_identity_map(args.tenant, _identity_map(args.user_id, args.trait))
            _show_identity_map(stores().tenants.get_tenant(args.tenant))
            print("in use within AUTH_CACHE_SECONDS")
        case "keys", "create":
            key = auth.issue_key(Principal(args.tenant, Scope(args.scope)))
            print(f"{args.scope} key for {args.tenant} (id {auth.key_id(key)}), shown only now:\n{key}")
        case "keys", "list":
            for info in stores().tenants.list_keys(args.tenant):
                print(f"{info.key_id}\t{info.scope.value}\t{info.created_at.isoformat()}")
        case "keys", "revoke":
            stores().tenants.revoke_key(args.tenant, args.key_id)
            print(f"revoked {args.key_id}; refused everywhere within AUTH_CACHE_SECONDS")
        case "audiences", "list":
            print("segment_id\texternal_id\tsize\trevision\tenabled\tid")
            for audience in catalog.list_audiences(args.tenant):
                size = memberships.audience_size(args.tenant, audience.external_id)
                print(
                    f"{audience.key}\t{audience.external_id}\t{size}\t{audience.revision}\t{audience.enabled}"
                    f"\t{audience.audience_id}"
                )
        case "privacy", "status":
            _privacy_status(args.tenant, args.request_id)
        case "privacy", "wrap-secrets":
            from audiences.stores import privacy as privacy_table  # a migration of the table's items

            tenants = stores().tenants.list_tenants()
            wrapped = sum(privacy_table.wrap_secret(tenant.tenant_id) for tenant in tenants)
            print(f"{wrapped} tenant secrets wrapped with KMS; {len(tenants) - wrapped} tenants had none in clear")
        case "privacy", "save-erasures":
            _save_erasures(_instant(args.since), args.file)
        case "privacy", "replay-erasures":
            _replay_erasures(args.file)
        case "privacy", action:
            _privacy_request(args.tenant, action, args.subjects)
        case "audiences", "migrate":
            from audiences.stores import catalog as catalog_table  # a migration of the table's items

            for tenant in stores().tenants.list_tenants():
                print(f"{tenant.tenant_id}\t{catalog_table.migrate(tenant.tenant_id)} audiences migrated")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _point_at_target(args)
        _run(args)
    except (AdminError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        from audiences.errors import AudiencesError
        from audiences.stores.clients import AWS_ERRORS

        if isinstance(error, AudiencesError):
            print(f"error: {error}", file=sys.stderr)
            return 1
        if isinstance(error, AWS_ERRORS):
            print(f"error: AWS said: {error}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
