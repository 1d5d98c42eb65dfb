#!/usr/bin/python3
"""Checks the Kubernetes manifests of deploy/kubernetes/.

Usage:
  check_kubernetes.py DIR LIENTHONGCTL
      Checks the manifests in DIR (every *.yaml; kustomization.yaml lists what
      `kubectl apply -k` applies), then writes the ConfigMap's files to a temporary folder
      laid out as the pod mounts them and runs `LIENTHONGCTL lint --config` on the node
      config there, with a dummy value for every environment variable the config names.
  check_kubernetes.py --self-test DIR [LIENTHONGCTL]
      Loads DIR, checks that it passes, then breaks a copy in memory once per rule and
      checks that the rule reports it (with LIENTHONGCTL: the lint too).

Rules (each problem is printed as FILE: KIND/NAME: what, and fails the check):
  yaml            every file is YAML without duplicate keys, every document a mapping
  kustomization   kustomization.yaml lists existing files; every manifest is listed,
                  except files holding only Secrets (applied apart: a re-apply must not
                  put placeholders back); no listed file holds a Secret
  identity        apiVersion, kind and metadata.name, the apiVersion known for the kind,
                  no metadata.namespace (the set is applied to any namespace), unique names
  fields          no unknown field in the objects' specs (catches misspelt fields)
  deployment      replicas >= 2, selector.matchLabels matches the template's labels
  service         ClusterIP, selector matching a Deployment's pods, targetPort naming a
                  container port
  pdb             selector matching a Deployment's pods, minAvailable or maxUnavailable,
                  and it lets one pod go
  references      every ConfigMap and Secret named by volumes and env exists in the set
                  with the keys named
  mounts          every volumeMount names a volume; ConfigMap and Secret mounts read-only
  probes          startupProbe, readinessProbe and livenessProbe on a declared container
                  port; the startup probe allows 30 s at least
  security        runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, not
                  privileged, capabilities drop ALL and add none
  key-files       Secret files mounted with mode 0400 and a pod fsGroup (a non-root
                  process reads them through the group)
  resources       cpu and memory requests and limits, limits not below requests
  grace           terminationGracePeriodSeconds > preStop sleep + engine.drain-timeout
  env             every `*-env` of the node config is set in the container, from a Secret
  config          --config names a ConfigMap file under a mount; the config's routes
                  resolve to mounted route files; every file the config names is mounted
  listeners       every listener has a non-loopback address and a declared container port
  node-name       each replica gets its own node name (its host name): no explicit
                  store.postgresql.node with replicas > 1, no hostname, no hostNetwork
  writable        anything the daemon writes (embedded store, file endpoints) is on a
                  writable volume
  same-routes     the ConfigMap's route files equal those of deploy/cluster/routes/
  placeholders    every Secret value in the repository is a placeholder ("replace")
  lint            lienthongctl lint accepts the node config and its routes
"""

import copy
import os
import pathlib
import posixpath
import re
import subprocess
import sys
import tempfile

import yaml


# --- YAML ------------------------------------------------------------------------------

# The schema check's loader: duplicate keys are errors (the API server and the daemon would
# keep one of them silently), dates stay text.
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "schema"))
from validate_files import _Loader  # noqa: E402


def load_all(text):
    return list(yaml.load_all(text, Loader=_Loader))


def load_one(text):
    return yaml.load(text, Loader=_Loader)


# --- The set of manifests --------------------------------------------------------------

class Doc:
    def __init__(self, file, obj):
        self.file = file
        self.obj = obj

    @property
    def kind(self):
        return self.obj.get("kind") if isinstance(self.obj, dict) else None

    @property
    def name(self):
        meta = self.obj.get("metadata") if isinstance(self.obj, dict) else None
        return meta.get("name") if isinstance(meta, dict) else None

    def where(self):
        return f"{self.file}: {self.kind or '?'}/{self.name or '?'}"


class ManifestSet:
    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.docs = []            # Doc, in file order
        self.files = []           # manifest file names (not kustomization.yaml)
        self.kustomization = None
        self.load_errors = []     # (file, message)

    def of_kind(self, kind):
        return [d for d in self.docs if d.kind == kind]

    def find(self, kind, name):
        for d in self.docs:
            if d.kind == kind and d.name == name:
                return d
        return None


def load_set(directory):
    s = ManifestSet(directory)
    if not s.dir.is_dir():
        s.load_errors.append((str(directory), "not a directory"))
        return s
    for path in sorted(list(s.dir.glob("*.yaml")) + list(s.dir.glob("*.yml"))):
        try:
            documents = load_all(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            s.load_errors.append((path.name, "not readable YAML: " + " ".join(str(e).split())))
            continue
        if path.name == "kustomization.yaml":
            s.kustomization = documents[0] if documents else None
            continue
        s.files.append(path.name)
        for obj in documents:
            if obj is None:
                continue
            s.docs.append(Doc(path.name, obj))
    return s


# --- Reporting -------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.problems = []  # (rule, text)

    def add(self, rule, where, message):
        where = where.where() if isinstance(where, Doc) else where
        self.problems.append((rule, f"{where}: {message}"))


# --- Small helpers ---------------------------------------------------------------------

KNOWN_API = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "PodDisruptionBudget": "policy/v1",
}


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def pod_spec(deployment):
    return as_dict(as_dict(as_dict(deployment.obj.get("spec")).get("template")).get("spec"))


def pod_labels(deployment):
    template = as_dict(as_dict(deployment.obj.get("spec")).get("template"))
    return as_dict(as_dict(template.get("metadata")).get("labels"))


def containers(deployment):
    return [c for c in as_list(pod_spec(deployment).get("containers")) if isinstance(c, dict)]


def cname(container):
    return f"container '{container.get('name', '?')}'"


def selects(selector, labels):
    """Whether a label selector (matchLabels only, or a plain map) selects `labels`."""
    if not isinstance(selector, dict) or not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        if selector.get("matchExpressions"):
            return False  # not evaluated: reported as unsupported by the caller
        selector = as_dict(selector.get("matchLabels"))
        if not selector:
            return False
    return all(labels.get(k) == v for k, v in selector.items())


def parse_duration_ms(text):
    """The daemon's duration syntax (core/config.cc parseDuration): an integer and a unit."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", str(text))
    if not m:
        return None
    factor = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[m.group(2)]
    return int(m.group(1)) * factor


_SUFFIX = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(value):
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?", str(value))
    if not m:
        return None
    return float(m.group(1)) * _SUFFIX[m.group(2) or ""]


def config_flag(container):
    """The --config value of the container's command line, or None."""
    argv = [str(a) for a in as_list(container.get("command")) + as_list(container.get("args"))]
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a[len("--config="):]
    return None


def under(path, directory):
    path, directory = posixpath.normpath(path), posixpath.normpath(directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def walk(node, path=()):
    """Yields (path tuple, key, value) for every mapping entry of a YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


# --- What a container sees --------------------------------------------------------------

class MountedFile:
    def __init__(self, source_kind, source_name, key, mode, mount):
        self.source_kind = source_kind  # "ConfigMap" or "Secret"
        self.source_name = source_name
        self.key = key
        self.mode = mode
        self.mount = mount              # the volumeMount


def _projection_files(source_kind, source, default_mode, mset):
    """(path in the volume, key, mode) of a configMap or secret volume or projection."""
    items = as_list(source.get("items"))
    if items:
        return [(str(i.get("path", "")), str(i.get("key", "")), i.get("mode", default_mode))
                for i in items if isinstance(i, dict)]
    target = mset.find(source_kind, source.get("name"))
    if target is None:
        return []
    keys = list(as_dict(target.obj.get("data"))) + list(as_dict(target.obj.get("stringData")))
    return [(k, k, default_mode) for k in keys]


def mounted_files(deployment, container, mset):
    """{absolute path: MountedFile} of every ConfigMap and Secret file the container sees."""
    volumes = {v.get("name"): v for v in as_list(pod_spec(deployment).get("volumes"))
               if isinstance(v, dict)}
    files = {}
    for mount in as_list(container.get("volumeMounts")):
        if not isinstance(mount, dict) or mount.get("subPath"):
            continue
        volume = as_dict(volumes.get(mount.get("name")))
        base = str(mount.get("mountPath", ""))
        sources = []
        if "configMap" in volume:
            sources.append(("ConfigMap", as_dict(volume["configMap"]),
                            as_dict(volume["configMap"]).get("defaultMode", 0o644)))
        if "secret" in volume:
            secret = as_dict(volume["secret"])
            sources.append(("Secret", {**secret, "name": secret.get("secretName")},
                            secret.get("defaultMode", 0o644)))
        if "projected" in volume:
            projected = as_dict(volume["projected"])
            for src in as_list(projected.get("sources")):
                for kind, field in (("ConfigMap", "configMap"), ("Secret", "secret")):
                    if isinstance(src, dict) and field in src:
                        sources.append((kind, as_dict(src[field]),
                                        projected.get("defaultMode", 0o644)))
        for kind, source, default_mode in sources:
            for path, key, mode in _projection_files(kind, source, default_mode, mset):
                full = posixpath.normpath(posixpath.join(base, path))
                files[full] = MountedFile(kind, source.get("name"), key, mode, mount)
    return files


def writable_dirs(deployment, container):
    volumes = {v.get("name"): v for v in as_list(pod_spec(deployment).get("volumes"))
               if isinstance(v, dict)}
    out = []
    for mount in as_list(container.get("volumeMounts")):
        if not isinstance(mount, dict) or mount.get("readOnly"):
            continue
        volume = as_dict(volumes.get(mount.get("name")))
        if any(k in volume for k in ("emptyDir", "persistentVolumeClaim", "ephemeral")):
            out.append(str(mount.get("mountPath", "")))
    return out


def file_content(mset, mounted):
    doc = mset.find(mounted.source_kind, mounted.source_name)
    if doc is None:
        return None
    for field in ("data", "stringData"):
        data = as_dict(doc.obj.get(field))
        if mounted.key in data:
            return str(data[mounted.key])
    return None


class NodeConfig:
    """The node config a container runs, as mounted, with its routes."""

    def __init__(self):
        self.path = None        # absolute path in the container
        self.doc = None         # the ConfigMap holding it
        self.config = None      # parsed
        self.home = None
        self.route_files = {}   # absolute path -> parsed document
        self.files = {}         # mounted files


def node_config(deployment, container, mset, report):
    """Finds and parses the config the container's command names; reports rule `config`."""
    nc = NodeConfig()
    nc.files = mounted_files(deployment, container, mset)
    where = f"{deployment.where()}: {cname(container)}"
    argv = [str(a) for a in as_list(container.get("command")) + as_list(container.get("args"))]
    if not argv or posixpath.basename(argv[0]) != "lienthongd":
        program = argv[0] if argv else "the image's entry point"
        report.add("config", deployment, f"{cname(container)}: runs {program}, not lienthongd "
                                         f"(set command)")
    path = config_flag(container)
    if path is None:
        report.add("config", deployment, f"{cname(container)}: no --config FILE in its command")
        return None
    if not path.startswith("/"):
        report.add("config", deployment, f"{cname(container)}: --config {path} is not absolute")
        return None
    mounted = nc.files.get(posixpath.normpath(path))
    if mounted is None or mounted.source_kind != "ConfigMap":
        report.add("config", deployment,
                   f"{cname(container)}: --config {path} is not a file of a mounted ConfigMap "
                   f"(mounted: {', '.join(sorted(nc.files)) or 'nothing'})")
        return None
    text = file_content(mset, mounted)
    cm = mset.find("ConfigMap", mounted.source_name)
    if text is None or cm is None:
        return None  # reported by rule `references`
    nc.path, nc.doc = posixpath.normpath(path), cm
    try:
        nc.config = load_one(text)
    except yaml.YAMLError as e:
        report.add("config", cm, f"key '{mounted.key}' is not readable YAML: "
                                 + " ".join(str(e).split()))
        return None
    if not isinstance(nc.config, dict):
        report.add("config", cm, f"key '{mounted.key}' is not a mapping")
        return None
    home = nc.config.get("home")
    nc.home = posixpath.dirname(nc.path)
    if home is not None:
        nc.home = posixpath.normpath(posixpath.join(nc.home, str(home)))
    for entry in as_list(nc.config.get("routes")):
        target = posixpath.normpath(posixpath.join(nc.home, str(entry)))
        found = [p for p in nc.files if p == target or under(p, target)]
        found = [p for p in found if (p == target or p.endswith(".yaml"))
                 and not p.endswith("_test.yaml")]
        if not found:
            report.add("config", cm, f"{mounted.key}: routes entry '{entry}' is {target} in "
                                     f"{where}, where no route file is mounted")
            continue
        for p in found:
            try:
                nc.route_files[p] = load_one(file_content(mset, nc.files[p]) or "")
            except yaml.YAMLError as e:
                report.add("config", mset.find(nc.files[p].source_kind, nc.files[p].source_name)
                           or cm, f"route file {p} is not readable YAML: "
                           + " ".join(str(e).split()))
    if not as_list(nc.config.get("routes")):
        report.add("config", cm, f"{mounted.key}: no routes entry")
    return nc


# --- Rules -----------------------------------------------------------------------------

def rule_yaml(mset, report):
    for file, message in mset.load_errors:
        report.add("yaml", file, message)
    for d in mset.docs:
        if not isinstance(d.obj, dict):
            report.add("yaml", d.file, "a document is not a mapping")


def rule_kustomization(mset, report):
    k = mset.kustomization
    if k is None:
        if (mset.dir / "kustomization.yaml").exists():
            report.add("kustomization", "kustomization.yaml", "empty")
        return
    if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
        report.add("kustomization", "kustomization.yaml",
                   "apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization")
    listed = [str(r) for r in as_list(k.get("resources"))]
    for r in listed:
        if not (mset.dir / r).is_file():
            report.add("kustomization", "kustomization.yaml", f"resource '{r}' does not exist")
    for f in mset.files:
        kinds = {d.kind for d in mset.docs if d.file == f}
        if f in listed and "Secret" in kinds:
            report.add("kustomization", "kustomization.yaml",
                       f"'{f}' holds a Secret: a re-apply would put its placeholders back")
        if f not in listed and kinds != {"Secret"}:
            report.add("kustomization", "kustomization.yaml",
                       f"'{f}' is not listed in resources")


def rule_identity(mset, report):
    seen = {}
    for d in mset.docs:
        if not isinstance(d.obj, dict):
            continue
        kind, api = d.obj.get("kind"), d.obj.get("apiVersion")
        if not kind or not api or not d.name:
            report.add("identity", d, "needs apiVersion, kind and metadata.name")
            continue
        if kind not in KNOWN_API:
            report.add("identity", d, f"kind {kind} is not one of {', '.join(KNOWN_API)}")
        elif api != KNOWN_API[kind]:
            report.add("identity", d, f"apiVersion {api}: a {kind} is {KNOWN_API[kind]}")
        if "namespace" in as_dict(d.obj.get("metadata")):
            report.add("identity", d, "metadata.namespace is set: the set is namespace-neutral")
        if (kind, d.name) in seen:
            report.add("identity", d, f"defined twice (also in {seen[(kind, d.name)]})")
        seen[(kind, d.name)] = d.file


# Fields of the objects used here (Kubernetes 1.32), to catch misspellings.
_FIELDS = {
    "object": {"apiVersion", "kind", "metadata", "spec", "data", "binaryData", "stringData",
               "type", "immutable"},
    "metadata": {"name", "labels", "annotations"},
    "deployment": {"replicas", "selector", "template", "strategy", "minReadySeconds",
                   "revisionHistoryLimit", "paused", "progressDeadlineSeconds"},
    "template": {"metadata", "spec"},
    "pod": {"volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy",
            "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy",
            "nodeSelector", "serviceAccountName", "serviceAccount",
            "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC",
            "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname",
            "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases",
            "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName",
            "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints",
            "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims",
            "resources"},
    "container": {"name", "image", "command", "args", "workingDir", "ports", "envFrom", "env",
                  "resources", "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices",
                  "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
                  "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
                  "securityContext", "stdin", "stdinOnce", "tty"},
    "probe": {"exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds",
              "periodSeconds", "successThreshold", "failureThreshold",
              "terminationGracePeriodSeconds"},
    "securityContext": {"capabilities", "privileged", "seLinuxOptions", "windowsOptions",
                        "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
                        "allowPrivilegeEscalation", "procMount", "seccompProfile",
                        "appArmorProfile"},
    "podSecurityContext": {"seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup",
                           "runAsNonRoot", "supplementalGroups", "supplementalGroupsPolicy",
                           "fsGroup", "sysctls", "fsGroupChangePolicy", "seccompProfile",
                           "appArmorProfile", "seLinuxChangePolicy"},
    "containerPort": {"name", "hostPort", "containerPort", "protocol", "hostIP"},
    "env": {"name", "value", "valueFrom"},
    "volumeMount": {"name", "readOnly", "recursiveReadOnly", "mountPath", "subPath",
                    "mountPropagation", "subPathExpr"},
    "resources": {"limits", "requests", "claims"},
    "service": {"ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs",
                "sessionAffinity", "loadBalancerIP", "loadBalancerSourceRanges", "externalName",
                "externalTrafficPolicy", "healthCheckNodePort", "publishNotReadyAddresses",
                "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
                "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy",
                "trafficDistribution"},
    "servicePort": {"name", "protocol", "appProtocol", "port", "targetPort", "nodePort"},
    "pdb": {"minAvailable", "maxUnavailable", "selector", "unhealthyPodEvictionPolicy"},
}


def _unknown(report, doc, where, value, kind):
    if isinstance(value, dict):
        for k in value:
            if k not in _FIELDS[kind]:
                report.add("fields", doc, f"{where}: unknown field '{k}'")


def rule_fields(mset, report):
    for d in mset.docs:
        if not isinstance(d.obj, dict) or d.kind not in KNOWN_API:
            continue
        _unknown(report, d, "top level", d.obj, "object")
        _unknown(report, d, "metadata", d.obj.get("metadata"), "metadata")
        spec = d.obj.get("spec")
        if d.kind == "Deployment":
            _unknown(report, d, "spec", spec, "deployment")
            template = as_dict(spec).get("template") if isinstance(spec, dict) else None
            _unknown(report, d, "spec.template", template, "template")
            _unknown(report, d, "spec.template.metadata", as_dict(template).get("metadata"),
                     "metadata")
            pod = pod_spec(d)
            _unknown(report, d, "pod spec", pod, "pod")
            _unknown(report, d, "pod securityContext", pod.get("securityContext"),
                     "podSecurityContext")
            for c in containers(d):
                w = cname(c)
                _unknown(report, d, w, c, "container")
                _unknown(report, d, f"{w} securityContext", c.get("securityContext"),
                         "securityContext")
                _unknown(report, d, f"{w} resources", c.get("resources"), "resources")
                for p in ("startupProbe", "readinessProbe", "livenessProbe"):
                    _unknown(report, d, f"{w} {p}", c.get(p), "probe")
                for port in as_list(c.get("ports")):
                    _unknown(report, d, f"{w} ports", port, "containerPort")
                for e in as_list(c.get("env")):
                    _unknown(report, d, f"{w} env", e, "env")
                for m in as_list(c.get("volumeMounts")):
                    _unknown(report, d, f"{w} volumeMounts", m, "volumeMount")
        elif d.kind == "Service":
            _unknown(report, d, "spec", spec, "service")
            for port in as_list(as_dict(spec).get("ports")):
                _unknown(report, d, "spec.ports", port, "servicePort")
        elif d.kind == "PodDisruptionBudget":
            _unknown(report, d, "spec", spec, "pdb")


def rule_deployment(mset, report):
    for d in mset.of_kind("Deployment"):
        spec = as_dict(d.obj.get("spec"))
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 2:
            report.add("deployment", d, f"replicas {replicas}: a cluster needs 2 nodes at least")
        selector = as_dict(spec.get("selector"))
        if selector.get("matchExpressions"):
            report.add("deployment", d, "selector.matchExpressions is not checked: use matchLabels")
        if not selects(selector, pod_labels(d)):
            report.add("deployment", d, f"selector {as_dict(selector.get('matchLabels'))} does not "
                                        f"match the template's labels {pod_labels(d)}")
        if not containers(d):
            report.add("deployment", d, "no container")


def _matching_deployments(mset, selector):
    return [d for d in mset.of_kind("Deployment") if selects(selector, pod_labels(d))]


def rule_service(mset, report):
    for s in mset.of_kind("Service"):
        spec = as_dict(s.obj.get("spec"))
        if spec.get("type", "ClusterIP") != "ClusterIP":
            report.add("service", s, f"type {spec.get('type')}: expected ClusterIP")
        selector = as_dict(spec.get("selector"))
        targets = _matching_deployments(mset, selector)
        if not selector or not targets:
            report.add("service", s, f"selector {selector} selects no Deployment's pods")
        ports = as_list(spec.get("ports"))
        if not ports:
            report.add("service", s, "no port")
        for p in ports:
            p = as_dict(p)
            target = p.get("targetPort")
            if not isinstance(target, str):
                report.add("service", s, f"port {p.get('port')}: targetPort must name a "
                                         f"container port (found {target!r})")
                continue
            for d in targets:
                names = {cp.get("name") for c in containers(d) for cp in as_list(c.get("ports"))
                         if isinstance(cp, dict)}
                if target not in names:
                    report.add("service", s, f"port {p.get('port')}: targetPort '{target}' is no "
                                             f"container port of {d.where()} (ports: "
                                             f"{', '.join(sorted(n for n in names if n))})")


def rule_pdb(mset, report):
    replicas = {d.name: as_dict(d.obj.get("spec")).get("replicas", 1)
                for d in mset.of_kind("Deployment")}
    if mset.of_kind("Deployment") and not mset.of_kind("PodDisruptionBudget"):
        report.add("pdb", mset.of_kind("Deployment")[0], "no PodDisruptionBudget selects its pods")
    for b in mset.of_kind("PodDisruptionBudget"):
        spec = as_dict(b.obj.get("spec"))
        targets = _matching_deployments(mset, as_dict(spec.get("selector")))
        if not targets:
            report.add("pdb", b, f"selector {spec.get('selector')} selects no Deployment's pods")
        has_min, has_max = "minAvailable" in spec, "maxUnavailable" in spec
        if has_min == has_max:
            report.add("pdb", b, "needs one of minAvailable and maxUnavailable")
        for d in targets:
            n = replicas.get(d.name)
            if has_max and spec["maxUnavailable"] in (0, "0", "0%"):
                report.add("pdb", b, "maxUnavailable 0 blocks every node drain")
            if has_min and isinstance(spec["minAvailable"], int) and isinstance(n, int) \
                    and spec["minAvailable"] >= n:
                report.add("pdb", b, f"minAvailable {spec['minAvailable']} with {n} replicas of "
                                     f"{d.where()} blocks every node drain")


def _item_keys(source):
    return [i.get("key") for i in as_list(source.get("items")) if isinstance(i, dict)]


def rule_references(mset, report):
    """Optional references too: the daemon cannot start without what they hold."""
    def check(d, kind, name, keys, what):
        target = mset.find(kind, name)
        if target is None:
            report.add("references", d, f"{what}: {kind} '{name}' is not in the set")
            return
        present = set()
        for field in ("data", "stringData", "binaryData"):
            present |= set(as_dict(target.obj.get(field)))
        for k in keys:
            if k not in present:
                report.add("references", d, f"{what}: {kind} '{name}' has no key '{k}' "
                                            f"(keys: {', '.join(sorted(present))})")

    for d in mset.of_kind("Deployment"):
        for v in as_list(pod_spec(d).get("volumes")):
            v = as_dict(v)
            what = f"volume '{v.get('name')}'"
            if "configMap" in v:
                src = as_dict(v["configMap"])
                check(d, "ConfigMap", src.get("name"), _item_keys(src), what)
            if "secret" in v:
                src = as_dict(v["secret"])
                check(d, "Secret", src.get("secretName"), _item_keys(src), what)
            for src in as_list(as_dict(v.get("projected")).get("sources")):
                src = as_dict(src)
                for kind, field in (("ConfigMap", "configMap"), ("Secret", "secret")):
                    if field in src:
                        ref = as_dict(src[field])
                        check(d, kind, ref.get("name"), _item_keys(ref), what)
        for c in containers(d):
            for e in as_list(c.get("env")):
                vf = as_dict(as_dict(e).get("valueFrom"))
                what = f"{cname(c)} env {as_dict(e).get('name')}"
                for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if field in vf:
                        ref = as_dict(vf[field])
                        check(d, kind, ref.get("name"), [ref.get("key")], what)
            for e in as_list(c.get("envFrom")):
                e = as_dict(e)
                for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if field in e:
                        check(d, kind, as_dict(e[field]).get("name"), [], f"{cname(c)} envFrom")


def rule_mounts(mset, report):
    for d in mset.of_kind("Deployment"):
        volumes = {as_dict(v).get("name"): as_dict(v) for v in as_list(pod_spec(d).get("volumes"))}
        for c in containers(d):
            paths = set()
            for m in as_list(c.get("volumeMounts")):
                m = as_dict(m)
                v = volumes.get(m.get("name"))
                if v is None:
                    report.add("mounts", d, f"{cname(c)}: volumeMount '{m.get('name')}' at "
                                            f"{m.get('mountPath')} names no volume (volumes: "
                                            f"{', '.join(sorted(str(n) for n in volumes))})")
                    continue
                if m.get("mountPath") in paths:
                    report.add("mounts", d, f"{cname(c)}: two mounts at {m.get('mountPath')}")
                paths.add(m.get("mountPath"))
                if any(k in v for k in ("configMap", "secret", "projected")) and not m.get("readOnly"):
                    report.add("mounts", d, f"{cname(c)}: volume '{m.get('name')}' (config and "
                                            f"secrets) must be mounted readOnly")


def _declared_ports(container):
    ports = [as_dict(p) for p in as_list(container.get("ports"))]
    return {p.get("name") for p in ports if p.get("name")}, {p.get("containerPort") for p in ports}


def rule_probes(mset, report):
    for d in mset.of_kind("Deployment"):
        for c in containers(d):
            names, numbers = _declared_ports(c)
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                p = c.get(probe)
                if not isinstance(p, dict):
                    report.add("probes", d, f"{cname(c)}: no {probe}")
                    continue
                handler = [h for h in ("tcpSocket", "httpGet", "grpc", "exec") if h in p]
                if len(handler) != 1:
                    report.add("probes", d, f"{cname(c)}: {probe} needs one of tcpSocket, httpGet, "
                                            f"grpc, exec")
                    continue
                if handler[0] == "exec":
                    continue
                port = as_dict(p[handler[0]]).get("port")
                if not (port in names or port in numbers):
                    report.add("probes", d, f"{cname(c)}: {probe} port {port!r} is not a declared "
                                            f"container port ({', '.join(sorted(names))})")
            startup = as_dict(c.get("startupProbe"))
            if startup:
                window = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
                if window < 30:
                    report.add("probes", d, f"{cname(c)}: startupProbe allows {window} s; the store's "
                                            f"connection alone may take 10 s: allow 30 s at least")


def rule_security(mset, report):
    for d in mset.of_kind("Deployment"):
        pod_sc = as_dict(pod_spec(d).get("securityContext"))
        for c in containers(d):
            sc = as_dict(c.get("securityContext"))
            w = f"{cname(c)} securityContext"
            if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
                report.add("security", d, f"{w}: runAsNonRoot must be true (container or pod)")
            user = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if user == 0:
                report.add("security", d, f"{w}: runAsUser 0")
            if sc.get("readOnlyRootFilesystem") is not True:
                report.add("security", d, f"{w}: readOnlyRootFilesystem must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                report.add("security", d, f"{w}: allowPrivilegeEscalation must be false")
            if sc.get("privileged"):
                report.add("security", d, f"{w}: privileged")
            caps = as_dict(sc.get("capabilities"))
            if "ALL" not in as_list(caps.get("drop")):
                report.add("security", d, f"{w}: capabilities.drop must hold ALL")
            if as_list(caps.get("add")):
                report.add("security", d, f"{w}: capabilities.add {caps.get('add')}: none is needed")
        pod = pod_spec(d)
        for field in ("hostPID", "hostIPC"):
            if pod.get(field):
                report.add("security", d, f"pod spec: {field}")


def rule_key_files(mset, report):
    for d in mset.of_kind("Deployment"):
        fs_group = as_dict(pod_spec(d).get("securityContext")).get("fsGroup")
        for c in containers(d):
            secret_files = {p: f for p, f in mounted_files(d, c, mset).items()
                            if f.source_kind == "Secret"}
            for path, f in sorted(secret_files.items()):
                if f.mode != 0o400:
                    mode = f"{f.mode:04o}" if isinstance(f.mode, int) else repr(f.mode)
                    report.add("key-files", d, f"{cname(c)}: {path} (Secret '{f.source_name}' key "
                                               f"'{f.key}') has mode {mode}: expected 0400")
            if secret_files and fs_group is None:
                report.add("key-files", d, f"{cname(c)}: Secret files of mode 0400 are owned by "
                                           f"root: set the pod's securityContext.fsGroup so that "
                                           f"the non-root daemon can read them")


def rule_resources(mset, report):
    for d in mset.of_kind("Deployment"):
        for c in containers(d):
            r = as_dict(c.get("resources"))
            for what in ("cpu", "memory"):
                req = as_dict(r.get("requests")).get(what)
                lim = as_dict(r.get("limits")).get(what)
                if req is None or lim is None:
                    report.add("resources", d, f"{cname(c)}: needs requests and limits for {what}")
                    continue
                qr, ql = parse_quantity(req), parse_quantity(lim)
                if qr is None or ql is None:
                    report.add("resources", d, f"{cname(c)}: {what} {req!r}/{lim!r} is not a quantity")
                elif ql < qr:
                    report.add("resources", d, f"{cname(c)}: {what} limit {lim} is below the "
                                               f"request {req}")


def _prestop_seconds(container):
    pre = as_dict(as_dict(container.get("lifecycle")).get("preStop"))
    if "sleep" in pre:
        return int(as_dict(pre["sleep"]).get("seconds", 0))
    command = [str(a) for a in as_list(as_dict(pre.get("exec")).get("command"))]
    if len(command) == 2 and posixpath.basename(command[0]) == "sleep" and command[1].isdigit():
        return int(command[1])
    return 0


def rule_grace(d, c, nc, report):
    engine = as_dict(nc.config.get("engine"))
    raw = engine.get("drain-timeout", "30s")  # core/loader.h: drain_timeout 30 s
    drain = parse_duration_ms(raw)
    if drain is None:
        report.add("grace", nc.doc, f"engine.drain-timeout {raw!r} is not a duration")
        return
    grace = pod_spec(d).get("terminationGracePeriodSeconds", 30)
    pre = _prestop_seconds(c)
    if not isinstance(grace, int) or grace * 1000 <= drain + pre * 1000:
        report.add("grace", d, f"terminationGracePeriodSeconds {grace} must exceed the preStop "
                               f"sleep ({pre} s) + engine.drain-timeout ({raw}) of "
                               f"{nc.doc.where()}: the drain would be cut by SIGKILL")


def rule_env(d, c, nc, report):
    env = {as_dict(e).get("name"): as_dict(e) for e in as_list(c.get("env"))}
    for path, key, value in walk(nc.config):
        if not (isinstance(key, str) and key.endswith("-env")):
            continue
        where = ".".join(str(p) for p in path + (key,))
        e = env.get(value)
        if e is None:
            report.add("env", d, f"{cname(c)}: {where} of {nc.doc.where()} names {value}, which "
                                 f"the container's env does not set")
        elif "secretKeyRef" not in as_dict(e.get("valueFrom")):
            report.add("env", d, f"{cname(c)}: env {value} ({where}) holds a secret: take it "
                                 f"from a Secret with valueFrom.secretKeyRef")


_PATH_KEYS = {"key", "cert", "pkcs12", "ca", "crl", "intermediates", "ca-bundle", "client-ca"}


def rule_config_files(d, c, nc, report):
    """Every file the config names (keys, trust stores, TLS, *-file secrets) is mounted."""
    for path, key, value in walk(nc.config):
        if not isinstance(value, str) or not path:
            continue
        section = path[0]
        named = (isinstance(key, str) and key.endswith("-file")) \
            or (section in ("keys", "trust") and key in _PATH_KEYS) \
            or ("tls" in path and key in _PATH_KEYS) \
            or (section == "trust" and path[-1] == "pinned")
        if not named:
            continue
        full = posixpath.normpath(posixpath.join(nc.home, value))
        if full not in nc.files:
            where = ".".join(str(p) for p in path + (key,))
            report.add("config", nc.doc, f"{where}: {value} is {full} in {d.where()}: "
                                         f"{cname(c)}, where no such file is mounted")


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def rule_listeners(d, c, nc, report):
    names, numbers = _declared_ports(c)
    for name, listener in as_dict(nc.config.get("listeners")).items():
        for kind, settings in as_dict(listener).items():
            settings = as_dict(settings)
            address = str(settings.get("address", "127.0.0.1"))  # the http listener's default
            port = settings.get("port", 8080)
            if address in _LOOPBACK or address.startswith("127."):
                report.add("listeners", nc.doc, f"listener '{name}' listens on {address}: "
                                                f"unreachable from the Service and the probes")
            if port not in numbers:
                report.add("listeners", nc.doc, f"listener '{name}' port {port} is not a "
                                                f"containerPort of {d.where()}: {cname(c)}")


def rule_node_name(d, nc, report):
    pg = as_dict(as_dict(nc.config.get("store")).get("postgresql"))
    if not pg:
        return
    replicas = as_dict(d.obj.get("spec")).get("replicas", 1)
    pod = pod_spec(d)
    if "node" in pg and isinstance(replicas, int) and replicas > 1:
        report.add("node-name", nc.doc, f"store.postgresql.node '{pg['node']}' is the same for "
                                        f"the {replicas} replicas of {d.where()}: leave it out "
                                        f"(each pod's host name is its own)")
    if "node" not in pg:
        for field in ("hostname", "hostNetwork"):
            if pod.get(field):
                report.add("node-name", d, f"pod spec {field} makes the replicas share a host "
                                           f"name, the node name of store.postgresql")


def rule_writable(d, c, nc, report):
    writable = writable_dirs(d, c)
    needs = []
    store_path = as_dict(nc.config.get("store")).get("path")
    if store_path:
        needs.append(("store.path", posixpath.dirname(
            posixpath.normpath(posixpath.join(nc.home, str(store_path))))))
    for file, routes in nc.route_files.items():
        for path, key, value in walk(routes):
            if key == "file" and isinstance(value, dict) and len(path) >= 1 \
                    and path[-1] in ("from", "to"):
                for k in ("dir", "work-dir", "done-dir", "failed-dir"):
                    if k in value:
                        needs.append((f"{file}: file endpoint {k}",
                                      posixpath.normpath(posixpath.join(nc.home, str(value[k])))))
    for what, directory in needs:
        if not any(under(directory, w) for w in writable):
            report.add("writable", d, f"{cname(c)}: {what} {directory} is written by the daemon "
                                      f"but is on no writable volume (emptyDir or claim)")


def rule_same_routes(mset, nc, report):
    reference = mset.dir.parent / "cluster" / "routes"
    if not reference.is_dir():
        return
    expected = {p.name: p for p in sorted(reference.glob("*.yaml")) if not p.name.endswith("_test.yaml")}
    mounted = {posixpath.basename(p): (p, doc) for p, doc in nc.route_files.items()}
    for name in sorted(set(expected) | set(mounted)):
        if name not in mounted:
            report.add("same-routes", nc.doc, f"deploy/cluster/routes/{name} has no counterpart "
                                              f"in the mounted routes")
        elif name not in expected:
            report.add("same-routes", nc.doc, f"route file {mounted[name][0]} is not in "
                                              f"deploy/cluster/routes/")
        elif load_one(expected[name].read_text(encoding="utf-8")) != mounted[name][1]:
            report.add("same-routes", nc.doc, f"route file {mounted[name][0]} differs from "
                                              f"deploy/cluster/routes/{name}")


def rule_placeholders(mset, report):
    for s in mset.of_kind("Secret"):
        if s.obj.get("type", "Opaque") != "Opaque":
            report.add("placeholders", s, f"type {s.obj.get('type')}: expected Opaque")
        if as_dict(s.obj.get("data")):
            report.add("placeholders", s, "data holds base64 values: keep placeholders readable "
                                          "in stringData")
        for key, value in as_dict(s.obj.get("stringData")).items():
            if "replace" not in str(value).lower():
                report.add("placeholders", s, f"key '{key}' is not marked as a placeholder "
                                              f"(\"replace\"): no real secret in the repository")


def run_lint(mset, nc, lienthongctl, report):
    """Writes the ConfigMap files as mounted and runs `lienthongctl lint --config`."""
    if os.sep in lienthongctl:
        lienthongctl = os.path.abspath(lienthongctl)  # the lint runs in the temporary folder
    with tempfile.TemporaryDirectory(prefix="lienthong-k8s-") as tmp:
        for path, mounted in nc.files.items():
            if mounted.source_kind != "ConfigMap":
                continue
            content = file_content(mset, mounted)
            if content is None:
                continue
            target = pathlib.Path(tmp + path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        env = dict(os.environ)
        for _, key, value in walk(nc.config):
            if isinstance(key, str) and key.endswith("-env") and isinstance(value, str):
                env[value] = "lint-placeholder"
        try:
            out = subprocess.run([lienthongctl, "lint", "--config", tmp + nc.path],
                                 cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
        except OSError as e:
            report.add("lint", nc.doc, f"cannot run {lienthongctl}: {e}")
            return None
        text = (out.stdout + out.stderr).replace(tmp, "").strip()
        if out.returncode != 0:
            report.add("lint", nc.doc, f"lienthongctl lint --config {nc.path} (exit "
                                       f"{out.returncode}; lines of the mounted files):\n  "
                                       + text.replace("\n", "\n  "))
        return text


def check(mset, lienthongctl=None):
    """Runs every rule; returns (report, lint output or None)."""
    report = Report()
    rule_yaml(mset, report)
    rule_kustomization(mset, report)
    rule_identity(mset, report)
    rule_fields(mset, report)
    rule_deployment(mset, report)
    rule_service(mset, report)
    rule_pdb(mset, report)
    rule_references(mset, report)
    rule_mounts(mset, report)
    rule_probes(mset, report)
    rule_security(mset, report)
    rule_key_files(mset, report)
    rule_resources(mset, report)
    rule_placeholders(mset, report)
    lint = None
    deployments = mset.of_kind("Deployment")
    if not deployments:
        report.add("deployment", str(mset.dir), "no Deployment in the set")
    for d in deployments:
        for c in containers(d):
            nc = node_config(d, c, mset, report)
            if nc is None:
                continue
            rule_grace(d, c, nc, report)
            rule_env(d, c, nc, report)
            rule_config_files(d, c, nc, report)
            rule_listeners(d, c, nc, report)
            rule_node_name(d, nc, report)
            rule_writable(d, c, nc, report)
            rule_same_routes(mset, nc, report)
            if lienthongctl:
                lint = run_lint(mset, nc, lienthongctl, report)
    return report, lint


# --- Self-test -------------------------------------------------------------------------

def _obj(mset, kind, name=None):
    docs = mset.of_kind(kind)
    return next(d.obj for d in docs if name is None or d.name == name)


def _dep(m):
    return _obj(m, "Deployment")


def _pod(m):
    return _dep(m)["spec"]["template"]["spec"]


def _ctr(m):
    return _pod(m)["containers"][0]


def _cm(m):
    """The ConfigMap holding the node config, and the key of the config."""
    for d in m.of_kind("ConfigMap"):
        for key, value in as_dict(d.obj.get("data")).items():
            if isinstance(value, str) and "listeners:" in value:
                return d.obj, key
    raise AssertionError("no ConfigMap holds a node config")


def _edit_config(m, old, new):
    cm, key = _cm(m)
    if old not in cm["data"][key]:
        raise AssertionError(f"self-test: {old!r} not in the embedded config")
    cm["data"][key] = cm["data"][key].replace(old, new, 1)


def _edit_routes(m, old, new):
    cm, key = _cm(m)
    for k, v in cm["data"].items():
        if k != key and isinstance(v, str) and old in v:
            cm["data"][k] = v.replace(old, new, 1)
            return
    raise AssertionError(f"self-test: {old!r} in no embedded route file")


def _volume(m, name="config"):
    return next(v for v in _pod(m)["volumes"] if v["name"] == name)


def _secret_items(m):
    for src in _volume(m)["projected"]["sources"]:
        if "secret" in src:
            return src["secret"]["items"]
    raise AssertionError("no secret projection")


def _duplicate_key(m):
    """Loads a file with a duplicate key through load_set, as the check does."""
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "deployment.yaml").write_text(
            "apiVersion: apps/v1\nkind: Deployment\nkind: Service\n", encoding="utf-8")
        m.load_errors += load_set(tmp).load_errors


def _add_doc(m, file, obj):
    m.docs.append(Doc(file, obj))
    if file not in m.files:
        m.files.append(file)


# (what, rule, mutation, needs lienthongctl)
MUTATIONS = [
    ("a duplicate key", "yaml", _duplicate_key, False),
    ("kustomization lists a missing file", "kustomization",
     lambda m: m.kustomization["resources"].append("missing.yaml"), False),
    ("kustomization misses a manifest", "kustomization",
     lambda m: m.kustomization["resources"].remove("service.yaml"), False),
    ("kustomization applies the Secret", "kustomization",
     lambda m: m.kustomization["resources"].append(
         next(d.file for d in m.docs if d.kind == "Secret")), False),
    ("Deployment in apps/v1beta1", "identity",
     lambda m: _dep(m).update(apiVersion="apps/v1beta1"), False),
    ("PodDisruptionBudget in policy/v1beta1", "identity",
     lambda m: _obj(m, "PodDisruptionBudget").update(apiVersion="policy/v1beta1"), False),
    ("Service without a name", "identity",
     lambda m: _obj(m, "Service")["metadata"].pop("name"), False),
    ("a namespace in metadata", "identity",
     lambda m: _obj(m, "ConfigMap")["metadata"].update(namespace="lienthong"), False),
    ("an unknown kind", "identity",
     lambda m: _add_doc(m, "extra.yaml", {"apiVersion": "v1", "kind": "Pod",
                                          "metadata": {"name": "x"}}), False),
    ("misspelt readinessProbe", "fields",
     lambda m: _ctr(m).update(readinesProbe=_ctr(m).pop("readinessProbe")), False),
    ("one replica", "deployment",
     lambda m: _dep(m)["spec"].update(replicas=1), False),
    ("Deployment selector not matching its pods", "deployment",
     lambda m: _dep(m)["spec"]["selector"]["matchLabels"].update(
         {"app.kubernetes.io/name": "lienthong"}), False),
    ("Service selecting nothing", "service",
     lambda m: _obj(m, "Service")["spec"]["selector"].update(
         {"app.kubernetes.io/name": "lienthong-d"}), False),
    ("Service targetPort naming no container port", "service",
     lambda m: _obj(m, "Service")["spec"]["ports"][0].update(targetPort="https"), False),
    ("Service targetPort by number", "service",
     lambda m: _obj(m, "Service")["spec"]["ports"][0].update(targetPort=8080), False),
    ("Service of type NodePort", "service",
     lambda m: _obj(m, "Service")["spec"].update(type="NodePort"), False),
    ("PodDisruptionBudget selecting nothing", "pdb",
     lambda m: _obj(m, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].update(
         {"app.kubernetes.io/name": "other"}), False),
    ("PodDisruptionBudget letting no pod go", "pdb",
     lambda m: _obj(m, "PodDisruptionBudget")["spec"].update(maxUnavailable=0), False),
    ("no PodDisruptionBudget", "pdb",
     lambda m: m.docs.remove(next(d for d in m.docs if d.kind == "PodDisruptionBudget")), False),
    ("volume naming a missing ConfigMap", "references",
     lambda m: _volume(m)["projected"]["sources"][0]["configMap"].update(name="lienthong-cfg"),
     False),
    ("volume item naming a missing key", "references",
     lambda m: _secret_items(m)[0].update(key="tls.key"), False),
    ("env naming a missing Secret key", "references",
     lambda m: _ctr(m)["env"][0]["valueFrom"]["secretKeyRef"].update(key="amqp"), False),
    ("volumeMount naming no volume", "mounts",
     lambda m: _ctr(m)["volumeMounts"][0].update(name="cfg"), False),
    ("config volume mounted writable", "mounts",
     lambda m: _ctr(m)["volumeMounts"][0].update(readOnly=False), False),
    ("no startupProbe", "probes",
     lambda m: _ctr(m).pop("startupProbe"), False),
    ("no livenessProbe", "probes",
     lambda m: _ctr(m).pop("livenessProbe"), False),
    ("readinessProbe on an undeclared port", "probes",
     lambda m: _ctr(m)["readinessProbe"]["tcpSocket"].update(port="admin"), False),
    ("startupProbe too short", "probes",
     lambda m: _ctr(m)["startupProbe"].update(periodSeconds=1, failureThreshold=5), False),
    ("runAsNonRoot false", "security",
     lambda m: (_ctr(m)["securityContext"].update(runAsNonRoot=False),
                _pod(m)["securityContext"].update(runAsNonRoot=False)), False),
    ("writable root filesystem", "security",
     lambda m: _ctr(m)["securityContext"].update(readOnlyRootFilesystem=False), False),
    ("privilege escalation", "security",
     lambda m: _ctr(m)["securityContext"].pop("allowPrivilegeEscalation"), False),
    ("capabilities kept", "security",
     lambda m: _ctr(m)["securityContext"]["capabilities"].update(drop=["NET_RAW"]), False),
    ("a capability added", "security",
     lambda m: _ctr(m)["securityContext"]["capabilities"].update(add=["NET_BIND_SERVICE"]), False),
    ("key file of mode 0644", "key-files",
     lambda m: _secret_items(m)[0].update(mode=0o644), False),
    ("key files without fsGroup", "key-files",
     lambda m: _pod(m)["securityContext"].pop("fsGroup"), False),
    ("no memory limit", "resources",
     lambda m: _ctr(m)["resources"]["limits"].pop("memory"), False),
    ("cpu limit below the request", "resources",
     lambda m: _ctr(m)["resources"]["limits"].update(cpu="500m"), False),
    ("grace period not above the drain", "grace",
     lambda m: _pod(m).update(terminationGracePeriodSeconds=30), False),
    ("drain timeout raised above the grace period", "grace",
     lambda m: _edit_config(m, "drain-timeout: 30s", "drain-timeout: 2m"), False),
    ("password env not set", "env",
     lambda m: _ctr(m)["env"].pop(0), False),
    ("password env as a literal", "env",
     lambda m: _ctr(m)["env"].__setitem__(1, {"name": "LIENTHONG_PG_PASSWORD", "value": "x"}),
     False),
    ("config naming another env var", "env",
     lambda m: _edit_config(m, "password-env: LIENTHONG_PG_PASSWORD",
                            "password-env: LIENTHONG_DB_PASSWORD"), False),
    ("--config outside the mount", "config",
     lambda m: _ctr(m).update(args=["--config", "/etc/lienthongd/lienthong.yaml"]), False),
    ("another program", "config",
     lambda m: _ctr(m).update(command=["/usr/local/bin/lienthongctl"]), False),
    ("no --config", "config",
     lambda m: _ctr(m).update(args=[]), False),
    ("config mounted elsewhere", "config",
     lambda m: _ctr(m)["volumeMounts"][0].update(mountPath="/config"), False),
    ("routes directory not mounted", "config",
     lambda m: _edit_config(m, "routes: [ routes ]", "routes: [ routes.d ]"), False),
    ("route files mounted elsewhere", "config",
     lambda m: next(i for s in _volume(m)["projected"]["sources"] if "configMap" in s
                    for i in s["configMap"]["items"] if i["path"].startswith("routes/")).update(
         path="route/cluster.yaml"), False),
    ("config naming a key file that is not mounted", "config",
     lambda m: _edit_config(m, "routes: [ routes ]",
                            "keys:\n  agency: { key: keys/tls.key, cert: keys/agency.pem }\n"
                            "routes: [ routes ]"), False),
    ("listener on loopback", "listeners",
     lambda m: _edit_config(m, "address: 0.0.0.0", "address: 127.0.0.1"), False),
    ("listener port not declared", "listeners",
     lambda m: _edit_config(m, "port: 8080", "port: 9090"), False),
    ("one node name for every replica", "node-name",
     lambda m: _edit_config(m, "take-over-every: 5s", "take-over-every: 5s\n    node: lienthong"),
     False),
    ("hostNetwork", "node-name",
     lambda m: _pod(m).update(hostNetwork=True), False),
    ("embedded store on the read-only root", "writable",
     lambda m: _edit_config(m, "store:\n  postgresql:", "store:\n  path: var/store.db\n  postgresql:"),
     False),
    ("file endpoint on a read-only folder", "writable",
     lambda m: _edit_routes(m, "to: { http: { connection: onestop, path: /status,",
                            "to: { file: { dir: var/out }, http: { connection: onestop, path: /status,"),
     False),
    ("routes drifting from deploy/cluster/routes", "same-routes",
     lambda m: _edit_routes(m, "timeout: 10s", "timeout: 20s"), False),
    ("a real-looking secret value", "placeholders",
     lambda m: _obj(m, "Secret")["stringData"].update({"amqp-password": "s3cr3t"}), False),
    ("config the daemon refuses", "lint",
     lambda m: _edit_config(m, "take-over-every: 5s", "take-over-every: 5s\n    pool: 4"), True),
]


def self_test(directory, lienthongctl):
    base = load_set(directory)
    report, _ = check(copy.deepcopy(base), lienthongctl)
    failures = []
    if report.problems:
        failures += [f"the manifests themselves fail: {text}" for _, text in report.problems]
    caught = 0
    tried = 0
    for what, rule, mutate, needs_ctl in MUTATIONS:
        if needs_ctl and not lienthongctl:
            print(f"skip {what} (needs LIENTHONGCTL)")
            continue
        tried += 1
        broken = copy.deepcopy(base)
        try:
            mutate(broken)
        except (AssertionError, KeyError, StopIteration, IndexError, ValueError) as e:
            failures.append(f"mutation '{what}' does not apply to these manifests: {e!r}")
            continue
        r, _ = check(broken, lienthongctl if needs_ctl else None)
        hits = [text for rl, text in r.problems if rl == rule]
        if not hits:
            got = "; ".join(f"[{rl}] {t}" for rl, t in r.problems) or "nothing"
            failures.append(f"rule '{rule}' missed: {what} (reported: {got})")
            continue
        first = hits[0].splitlines()[0]
        if not re.match(r"[\w.-]+\.yaml: ", first):
            failures.append(f"rule '{rule}' does not name the file: {first}")
            continue
        caught += 1
        print(f"ok   [{rule}] {what}: {first}")
    rules = {rule for _, rule, _, needs_ctl in MUTATIONS if lienthongctl or not needs_ctl}
    for line in failures:
        print(f"FAIL {line}")
    summary = f"{caught}/{tried} broken copies caught, {len(rules)} rules exercised"
    if failures:
        print(f"deploy.kubernetes self-test: FAILED: {summary}")
        return 1
    print(f"deploy.kubernetes self-test: OK: {summary}")
    return 0


# --- Main ------------------------------------------------------------------------------

def main(argv):
    args = argv[1:]
    if args[:1] == ["--self-test"] and len(args) in (2, 3):
        return self_test(args[1], args[2] if len(args) == 3 else None)
    if len(args) != 2 or args[0].startswith("-"):
        print(f"usage: {argv[0]} DIR LIENTHONGCTL\n"
              f"       {argv[0]} --self-test DIR [LIENTHONGCTL]", file=sys.stderr)
        return 2
    mset = load_set(args[0])
    report, lint = check(mset, args[1])
    for _, text in report.problems:
        print(f"FAIL {text}")
    objects = ", ".join(d.where() for d in mset.docs)
    if report.problems:
        print(f"deploy.kubernetes: FAILED with {len(report.problems)} problem(s) in {mset.dir}")
        return 1
    print(f"lint: {lint}")
    print(f"deploy.kubernetes: OK: {len(mset.files)} file(s): {objects}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
