#!/usr/bin/python3
"""Validates lienthong's YAML files against the JSON Schemas in schemas/.

Usage: validate_files.py [REPO_ROOT]      (default: two levels above this script)

Checks, in order:
  * schemas/routes.schema.json, config.schema.json and route-tests.schema.json are valid draft 2020-12
    schemas (Draft202012Validator.check_schema);
  * route files validate against routes.schema.json:
      routes/**/*.yaml (but *_test.yaml), tests/data/routes/good/**/*.yaml,
      bench/**/routes*.yaml;
    and, for tests/data/routes/good (whose home is the repository root), every
    `set-body: {file: ...}` names an existing file;
  * route test files (routes/**/*_test.yaml, tests/data/route-tests/) validate against
    route-tests.schema.json;
  * config files validate against config.schema.json:
      config/*.yaml, tests/data/config/good/*.yaml;
  * the files that ConfigMaps in deploy/kubernetes/*.yaml hold (data keys ending in .yaml)
    validate as route files when their `routes` lists routes, as config files otherwise;
  * every property of the schemas has a `description`;
  * a built-in list of bad documents, each a valid document with one defect, is rejected
    with an error at the defect (so the schemas are shown to reject things).

Fails (exit 1) listing every file and error path when anything does not validate, when a
bad document is accepted, or when no route file was found at all. Needs Debian's
python3-jsonschema (>= 4.10) and python3-yaml.
"""

import copy
import json
import pathlib
import sys

import jsonschema
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match


# --- YAML loading ----------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (as the daemon does) and keeps dates as text
    (the daemon reads every scalar as text; a date in a description is not an error)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue  # construct_mapping below reports unhashable keys
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r} (first at line {seen[key].line + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)


# --- Reporting -------------------------------------------------------------------------

def describe(error):
    """One line for a validation error; for oneOf/anyOf, the most relevant sub-error."""
    text = error.message
    if error.context:
        sub = best_match(error.context)
        where = sub.json_path if sub.json_path != error.json_path else ""
        text += f" [{(where + ': ') if where else ''}{sub.message}]"
    if len(text) > 400:
        text = text[:400] + "..."
    return text


def schema_errors(validator, document):
    return sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.path)), e.message))


def undescribed(schema, path="#"):
    """Yields the schema path of every property without a `description` (editors show them)."""
    if isinstance(schema, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and "description" not in sub:
                yield f"{path}/properties/{name}"
        for key, sub in schema.items():
            yield from undescribed(sub, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from undescribed(sub, f"{path}/{i}")


# --- File discovery --------------------------------------------------------------------

def route_files(root):
    found = []
    for base, pattern in (("routes", "**/*.yaml"),
                          ("tests/data/routes/good", "**/*.yaml"),
                          ("bench", "**/routes*.yaml"),
                          ("deploy/cluster/routes", "*.yaml")):
        d = root / base
        if d.is_dir():
            found += [p for p in sorted(d.glob(pattern))
                      if p.is_file() and not p.name.endswith("_test.yaml")]
    return found


def route_test_files(root):
    found = []
    for base in ("routes", "tests/data/route-tests"):
        d = root / base
        if d.is_dir():
            found += [p for p in sorted(d.glob("**/*_test.yaml"))
                      if p.is_file() and p.name != "forward_test.yaml"]  # deliberate mistakes
    return found


def config_files(root):
    found = []
    for base in ("config", "tests/data/config/good", "deploy/cluster"):
        d = root / base
        if d.is_dir():
            found += [p for p in sorted(d.glob("*.yaml")) if p.is_file()]
    return found


def embedded_files(root):
    """(label, kind, text) of every *.yaml entry of the ConfigMaps in deploy/kubernetes/."""
    found = []
    d = root / "deploy" / "kubernetes"
    if not d.is_dir():
        return found
    for path in sorted(d.glob("*.yaml")):
        with open(path, encoding="utf-8") as f:
            manifests = list(yaml.load_all(f, Loader=_Loader))
        for m in manifests:
            if not isinstance(m, dict) or m.get("kind") != "ConfigMap":
                continue
            name = (m.get("metadata") or {}).get("name", "?")
            for key, text in sorted((m.get("data") or {}).items()):
                if not key.endswith(".yaml") or not isinstance(text, str):
                    continue
                try:
                    document = yaml.load(text, Loader=_Loader)
                except yaml.YAMLError:
                    document = None  # reported when loaded again below
                routes = document.get("routes") if isinstance(document, dict) else None
                is_routes = isinstance(routes, list) and any(isinstance(r, dict) for r in routes)
                label = f"{path.relative_to(root)} [ConfigMap {name}: {key}]"
                found.append((label, "routes" if is_routes else "config", text))
    return found


def set_body_files(node, path="$"):
    """Yields (json path, value) of every set-body `file:` in a route document."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}"
            if key == "set-body" and isinstance(value, dict) and isinstance(value.get("file"), str):
                yield f"{sub}.file", value["file"]
            yield from set_body_files(value, sub)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from set_body_files(value, f"{path}[{i}]")


# --- Bad documents ---------------------------------------------------------------------

def _base_route_doc():
    """A valid route document; each bad document is this with one defect."""
    return {
        "namespaces": {"h": "urn:lienthong:hoso:1"},
        "routes": [
            {
                "id": "dossier-intake",
                "pattern": "one-way",
                "timeout": "30s",
                "delivery": {"retry": {"attempts": 0, "backoff": "exponential",
                                       "initial": "1s", "max": "5m"},
                             "attempt-timeout": "20s",
                             "circuit-breaker": {"failures": 5, "open-for": "30s"},
                             "dead-letter": "store",
                             "ordering": {"key": "${MaHoSo}"}},
                "from": {"http": {"listener": "public", "path": "/dossiers", "methods": ["POST"]}},
                "steps": [
                    {"log": "received ${MaHoSo}"},
                    {"choice": [
                        {"when": "$TrangThai = '10'", "steps": [{"set-header": {"X-A": "1"}}]},
                        {"otherwise": None, "steps": [{"remove-header": ["X-A"]}]},
                    ]},
                    {"set-body": {"template": "${body}", "content-type": "text/plain"}},
                ],
                "to": {"http": {"connection": "onestop", "path": "/intake"}},
            },
            {
                "id": "file-drop",
                "pattern": "one-way",
                "from": {"file": {"dir": "var/inbox", "interval": "1s"}},
                "to": {"file": {"dir": "var/out"}},
            },
        ],
    }


def _base_config_doc():
    return {
        "home": ".",
        "log": {"level": "info"},
        "engine": {"workers": 4, "queue": 16, "max-pending": 100, "drain-timeout": "30s"},
        "listeners": {"public": {"http": {"port": 8080, "max-body": "10MiB"}}},
        "connections": {"onestop": {"http": {"url": "http://127.0.0.1:9000"}}},
        "keys": {"node": {"pkcs12": "pki/node.p12", "passphrase-env": "NODE_PASSPHRASE"}},
        "trust": {"agencies": {"ca": "pki/root.pem", "pinned": {"H22": "pki/h22.pem"}}},
        "routes": ["routes"],
    }


def _base_route_test_doc():
    return {
        "namespaces": {"h": "urn:lienthong:hoso:1"},
        "tests": [{
            "name": "a dossier gets its receipt",
            "route": "dossier-receipt",
            "input": {"headers": {"MaHoSo": "HS-1"}, "body": "<HoSo/>"},
            "replies": [{"status": 200, "body": "<Ok/>"}],
            "expect": {"outcome": "delivered", "headers": {"X": None},
                       "body": {"xpath": {"/h:BienNhan/h:MaHoSo": "HS-1"}},
                       "sent": [{"to": "var/outbox", "body": "<Ok/>"}]},
        }],
    }


def _t0(d):
    return d["tests"][0]


def _r0(d):
    return d["routes"][0]


def _r1(d):
    return d["routes"][1]


# (what, schema, mutation, JSON path where the error must be reported)
BAD_DOCUMENTS = [
    ("unknown top-level key", "routes",
     lambda d: d.update(routez=[]), "$"),
    ("missing routes", "routes",
     lambda d: d.pop("routes"), "$"),
    ("unknown route key", "routes",
     lambda d: _r0(d).update(retries=3), "$.routes[0]"),
    ("missing pattern", "routes",
     lambda d: _r0(d).pop("pattern"), "$.routes[0]"),
    ("unknown pattern", "routes",
     lambda d: _r0(d).update(pattern="fire-and-forget"), "$.routes[0].pattern"),
    ("missing from", "routes",
     lambda d: _r0(d).pop("from"), "$.routes[0]"),
    ("bad route id", "routes",
     lambda d: _r0(d).update(id="Dossier Intake"), "$.routes[0].id"),
    ("unknown step", "routes",
     lambda d: _r0(d)["steps"].append({"frobnicate": {"xslt": "a.xsl"}}), "$.routes[0].steps[3]"),
    ("two step names in one item", "routes",
     lambda d: _r0(d)["steps"][0].update({"remove-header": ["X"]}), "$.routes[0].steps[0]"),
    ("unknown step inside a choice branch", "routes",
     lambda d: _r0(d)["steps"][1]["choice"][0]["steps"].append({"sleep": "1s"}),
     "$.routes[0].steps[1].choice[0].steps[1]"),
    ("otherwise with a value", "routes",
     lambda d: _r0(d)["steps"][1]["choice"][1].update(otherwise=True),
     "$.routes[0].steps[1].choice[1].otherwise"),
    ("two otherwise branches", "routes",
     lambda d: _r0(d)["steps"][1]["choice"].append({"otherwise": None, "steps": []}),
     "$.routes[0].steps[1].choice"),
    ("log with an unknown level", "routes",
     lambda d: _r0(d)["steps"].__setitem__(0, {"log": {"message": "x", "level": "fatal"}}),
     "$.routes[0].steps[0].log.level"),
    ("set-body with template and file", "routes",
     lambda d: _r0(d)["steps"][2]["set-body"].update(file="t.xml"), "$.routes[0].steps[2].set-body"),
    ("two kinds in from", "routes",
     lambda d: _r0(d)["from"].update(file={"dir": "var/in"}), "$.routes[0].from"),
    ("unknown kind in to", "routes",
     lambda d: _r0(d).update(to={"ftp": {"host": "x"}}), "$.routes[0].to"),
    ("http outbound with connection and url", "routes",
     lambda d: _r0(d)["to"]["http"].update(url="http://x"), "$.routes[0].to.http"),
    ("http inbound without path", "routes",
     lambda d: _r0(d)["from"]["http"].pop("path"), "$.routes[0].from.http"),
    ("bad duration (no unit)", "routes",
     lambda d: _r0(d).update(timeout="30"), "$.routes[0].timeout"),
    ("bad duration (unknown unit)", "routes",
     lambda d: _r0(d)["delivery"]["retry"].update(max="1w"), "$.routes[0].delivery.retry.max"),
    ("negative retry attempts", "routes",
     lambda d: _r0(d)["delivery"]["retry"].update(attempts=-1), "$.routes[0].delivery.retry.attempts"),
    ("unknown backoff", "routes",
     lambda d: _r0(d)["delivery"]["retry"].update(backoff="linear"), "$.routes[0].delivery.retry.backoff"),
    ("circuit breaker without failures", "routes",
     lambda d: _r0(d)["delivery"]["circuit-breaker"].pop("failures"),
     "$.routes[0].delivery.circuit-breaker"),
    ("dead letters to a place that is neither the store nor a route", "routes",
     lambda d: _r0(d)["delivery"].update({"dead-letter": "queue"}), "$.routes[0].delivery.dead-letter"),
    ("bad attempt timeout", "routes",
     lambda d: _r0(d)["delivery"].update({"attempt-timeout": "soon"}),
     "$.routes[0].delivery.attempt-timeout"),
    ("file inbound on a request-reply route", "routes",
     lambda d: _r1(d).update(pattern="request-reply"), "$.routes[1].pattern"),
    ("unknown key in file inbound", "routes",
     lambda d: _r1(d)["from"]["file"].update(recursive=True), "$.routes[1].from.file"),
    ("route test: unknown outcome", "route-tests",
     lambda d: _t0(d)["expect"].update(outcome="ok"), "$.tests[0].expect.outcome"),
    ("route test: body and body-file", "route-tests",
     lambda d: _t0(d)["input"].update({"body-file": "a.xml"}), "$.tests[0].input"),
    ("route test: unknown body assertion", "route-tests",
     lambda d: _t0(d)["expect"]["body"].update(matches="x"), "$.tests[0].expect.body"),
    ("route test: reply status out of range", "route-tests",
     lambda d: _t0(d)["replies"][0].update(status=700), "$.tests[0].replies[0].status"),
    ("sign with a SHA-1 algorithm", "routes",
     lambda d: _r0(d)["steps"].append({"sign": {"key": "node", "algorithm": "rsa-sha1"}}),
     "$.routes[0].steps[3].sign.algorithm"),
    ("verify without a trust store", "routes",
     lambda d: _r0(d)["steps"].append({"verify": {"sender": "${MaCoQuan}"}}),
     "$.routes[0].steps[3].verify"),
    ("config: unknown top-level key", "config",
     lambda d: d.update(plugin=[]), "$"),
    ("config: port out of range", "config",
     lambda d: d["listeners"]["public"]["http"].update(port=65536), "$.listeners.public.http.port"),
    ("config: bad size", "config",
     lambda d: d["listeners"]["public"]["http"].update({"max-body": "10 MB"}),
     "$.listeners.public.http.max-body"),
    ("config: unknown listener kind", "config",
     lambda d: d["listeners"]["public"].update(grpc={"port": 1}), "$.listeners.public"),
    ("config: connection without url", "config",
     lambda d: d["connections"]["onestop"]["http"].pop("url"), "$.connections.onestop.http"),
    ("config: a key with its passphrase inline", "config",
     lambda d: d["keys"]["node"].update(passphrase="secret"), "$.keys.node"),
    ("config: a key with pkcs12 and key", "config",
     lambda d: d["keys"]["node"].update(key="k.pem", cert="c.pem"), "$.keys.node"),
    ("config: trust store without ca or pinned", "config",
     lambda d: d["trust"].update(empty={"crl": "crl.pem"}), "$.trust.empty"),
    ("config: trust store allowing md5", "config",
     lambda d: d["trust"]["agencies"].update(digests=["md5"]), "$.trust.agencies.digests[0]"),
    ("config: bad duration", "config",
     lambda d: d["engine"].update({"drain-timeout": "30sec"}), "$.engine.drain-timeout"),
]


# --- Main ------------------------------------------------------------------------------

def main(argv):
    if len(argv) > 2:
        print(f"usage: {argv[0]} [REPO_ROOT]", file=sys.stderr)
        return 2
    root = pathlib.Path(argv[1] if len(argv) == 2 else pathlib.Path(__file__).resolve().parents[2])
    root = root.resolve()
    failures = []  # one line each

    def rel(p):
        try:
            return str(p.relative_to(root))
        except ValueError:
            return str(p)

    # Schemas.
    validators = {}
    for name in ("routes", "config", "route-tests"):
        path = root / "schemas" / f"{name}.schema.json"
        try:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            Draft202012Validator.check_schema(schema)
            failures += [f"{rel(path)}: {where}: property has no description"
                         for where in undescribed(schema)]
            validators[name] = Draft202012Validator(schema)
        except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
            msg = e.message if isinstance(e, jsonschema.exceptions.SchemaError) else str(e)
            where = f"{e.json_path}: " if isinstance(e, jsonschema.exceptions.SchemaError) else ""
            failures.append(f"{rel(path)}: {where}not a valid draft 2020-12 schema: {msg}")
    if len(validators) != 3:
        for line in failures:
            print(f"FAIL {line}")
        print(f"schema.validate_files: FAILED ({len(failures)} error(s); schemas unusable)")
        return 1

    # Files.
    routes = route_files(root)
    configs = config_files(root)
    good_dir = root / "tests" / "data" / "routes" / "good"
    tests = route_test_files(root)
    checked = {"routes": 0, "config": 0, "route-tests": 0}
    for kind, files in (("routes", routes), ("config", configs), ("route-tests", tests)):
        for path in files:
            checked[kind] += 1
            try:
                document = load_yaml(path)
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
                failures.append(f"{rel(path)}: not readable YAML: {' '.join(str(e).split())}")
                print(f"FAIL {rel(path)} ({kind})")
                continue
            errors = [f"{rel(path)}: {e.json_path}: {describe(e)}"
                      for e in schema_errors(validators[kind], document)]
            if kind == "routes" and good_dir in path.parents:
                for where, ref in set_body_files(document):
                    if not (root / ref).is_file():
                        errors.append(f"{rel(path)}: {where}: no file '{ref}' under the home "
                                      f"directory {root}")
            failures += errors
            print(f"{'FAIL' if errors else 'ok  '} {rel(path)} ({kind})")
    try:
        embedded = embedded_files(root)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        embedded = []
        failures.append(f"deploy/kubernetes: not readable YAML: {' '.join(str(e).split())}")
    for label, kind, text in embedded:
        checked[kind] += 1
        try:
            document = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as e:
            failures.append(f"{label}: not readable YAML: {' '.join(str(e).split())}")
            print(f"FAIL {label} ({kind})")
            continue
        errors = [f"{label}: {e.json_path}: {describe(e)}"
                  for e in schema_errors(validators[kind], document)]
        failures += errors
        print(f"{'FAIL' if errors else 'ok  '} {label} ({kind})")
    if not routes:
        failures.append("no route file found (looked in routes/, tests/data/routes/good/, "
                        "bench/**/routes*.yaml)")

    # Bad documents.
    bases = {"routes": _base_route_doc, "config": _base_config_doc,
             "route-tests": _base_route_test_doc}
    for kind, make in bases.items():
        for e in validators[kind].iter_errors(make()):
            failures.append(f"built-in base {kind} document: {e.json_path}: {describe(e)}")
    rejected = 0
    for what, kind, mutate, expected in BAD_DOCUMENTS:
        document = copy.deepcopy(bases[kind]())
        mutate(document)
        paths = sorted({e.json_path for e in validators[kind].iter_errors(document)})
        if not paths:
            failures.append(f"bad document accepted: {what}")
        elif expected not in paths:
            failures.append(f"bad document '{what}' rejected at {', '.join(paths)}, "
                            f"expected at {expected}")
        else:
            rejected += 1

    print(f"bad documents: {rejected}/{len(BAD_DOCUMENTS)} rejected at the expected place")
    for line in failures:
        print(f"FAIL {line}")
    summary = (f"{checked['routes']} route file(s), {checked['config']} config file(s), "
               f"{checked['route-tests']} route test file(s), 3 schemas, {rejected}/{len(BAD_DOCUMENTS)} bad documents rejected")
    if failures:
        print(f"schema.validate_files: FAILED with {len(failures)} error(s): {summary}")
        return 1
    print(f"schema.validate_files: OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
