"""`llmp charts`: the pinned Helm charts, found offline and rendered with Helm's own engine.

The program installs its operators as `helm.v3.Release`s; under mocks such a release is one resource with
its values as inputs, so the objects it would create are invisible to every proof. This package renders
each recorded release exactly as an install would (same chart, version, values, release name and
namespace) with `helm-python-sdk` (Helm's Go SDK as a native library), so the proofs see the ~240 objects
the charts create.

- `sources`: where a pinned chart's source is found (a directory or `.tgz` per chart and version).
- `render`: one release -> its objects, as `helm install` would send them to the API server.
- `pull`: download the pinned charts into the local cache (needs network; `llmp charts pull`).

Tooling only: the Pulumi program never imports this package.
"""
