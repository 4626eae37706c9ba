"""Derive the ports the Kubernetes control plane calls on the nodes from the rendered charts.

The program cannot render charts while `pulumi up` runs (chart sources are tooling), so the ports its GKE
firewall opens are read from `llmplatform/serving/control_plane_ports.json`, which this module writes from
every stack's rendered charts: each admission webhook, APIService and CRD conversion webhook a release
creates, resolved through its Service to the pod port the API server connects to. The install proof
checks the planned firewall against the same derivation on every `llmp verify`, and a test regenerates the
file and compares, so the file cannot drift from the charts.

    python -m llmp.charts.ports            # print what the charts need
    python -m llmp.charts.ports --write    # rewrite the file
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from llmp.paths import PROJECT_ROOT
from llmplatform.serving.control_plane import GKE_OPEN_PORTS, PORTS_FILE


def ports_by_release(build_dir: Path) -> dict[str, list[int]]:
    """Release -> the pod ports the control plane calls for that release's objects (one planned stack)."""
    from llmp.verify.install.checks import control_plane_targets
    from llmp.verify.install.model import InstallModel

    model = InstallModel.load(build_dir)
    owners = {id(c.obj): c.release for c in model.charts}
    out: dict[str, set[int]] = {}
    for obj, _caller, _service, port, why in control_plane_targets(model, with_objects=True):
        if port is None:
            raise ValueError(f"cannot resolve a control-plane target of {owners.get(id(obj), 'the program')}: {why}")
        if port not in GKE_OPEN_PORTS:
            out.setdefault(owners.get(id(obj), "program"), set()).add(port)
    return {release: sorted(ports) for release, ports in sorted(out.items())}


def derive(project_dir: Path = PROJECT_ROOT, stacks: list[str] | None = None) -> dict[str, list[int]]:
    """Plan and render every stack (default: every Pulumi.<stack>.yaml) and merge their ports by release."""
    from llmp.charts.write import write_charts
    from llmp.plan.render import write_plan
    from llmp.plan.runner import run_program

    names = stacks or sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))
    merged: dict[str, set[int]] = {}
    for stack in names:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_plan(run_program(project_dir, stack), Path(tmp))
            index = write_charts(json.loads(paths["plan"].read_text()), Path(tmp))
            if index.missing:
                raise RuntimeError("charts not rendered: " + "; ".join(r["reason"] for r in index.missing))
            for release, ports in ports_by_release(Path(tmp)).items():
                merged.setdefault(release, set()).update(ports)
    return {release: sorted(ports) for release, ports in sorted(merged.items())}


def document(ports: dict[str, list[int]]) -> str:
    return json.dumps({"generatedBy": "python -m llmp.charts.ports --write", "releases": ports},
                      indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {PORTS_FILE.name}")
    args = parser.parse_args(argv)
    text = document(derive())
    if args.write:
        PORTS_FILE.write_text(text)
        print(f"wrote {PORTS_FILE}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
