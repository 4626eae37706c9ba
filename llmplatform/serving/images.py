"""Container images of the serving layer, pinned by digest (`repo:tag@sha256:...`).

The tag is kept for humans; the digest is what the kubelet pulls. Each digest was read from a public
source that pins the same tag (cited beside it); re-check with `crane digest <repo>:<tag>` before a
bump. The vLLM version decides the metric names KEDA and the endpoint picker read (see METRICS).
"""

from __future__ import annotations

VLLM_VERSION = "v0.14.0"
VLLM_IMAGE = (
    "vllm/vllm-openai:v0.14.0"
    "@sha256:1d6866b87630d94f5e0cdae55ab5abb4ce0b03fcb84d9d10612f9d518d19d4fd"
)
"""vLLM OpenAI server. Digest as pinned for this tag in github.com/tinfoilsh/vllm-openai-audio
(Dockerfile) and github.com/lxk36/xgc2-stt-service (Dockerfile, QWEN_VLLM_IMAGE)."""

WEIGHTS_IMAGE = VLLM_IMAGE
"""The init container that prestages weights runs `hf download` from the same image: its
huggingface_hub is the one vLLM reads the snapshot with, and no second image is trusted."""

EPP_VERSION = "v1.5.0"
EPP_IMAGE = (
    "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0"
    "@sha256:86c679b057298e68c6e65ff5603e92066d432e77b11f1f81f0a06399694810bc"
)
"""Gateway API Inference Extension endpoint picker. Digest of v1.5.0 as pinned by the ckodex
kserve-llm-operator (its `EPPImage` constant and its 2026-08-26 KIND acceptance record, which names
"GIE v1.5.0 ... EPP digest-pinned image" with this digest)."""

GIE_CRDS_URL = (
    "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/"
    f"{EPP_VERSION}/manifests.yaml"
)
"""The release's CRD bundle (InferencePool v1 plus the x-k8s alpha kinds the EPP watches), the
upstream install path; same version as the EPP."""
GIE_BUNDLE_CRDS = (
    "InferenceModelRewrite.inference.networking.x-k8s.io",
    "InferenceObjective.inference.networking.x-k8s.io",
    "InferencePoolImport.inference.networking.x-k8s.io",
    "InferencePool.inference.networking.k8s.io",
)
"""The CRDs (`Kind.group`) that bundle creates: kubernetes-sigs/gateway-api-inference-extension tag v1.5.0,
config/crd/kustomization.yaml (the bundle is `kustomize build config/crd`). The EPP needs only
InferencePool; it discovers the alpha kinds and watches them if present (pkg/epp/server/controller_config.go)."""
GIE_INFERENCE_POOL_CRD = "InferencePool.inference.networking.k8s.io"

METRICS = {
    "running": "vllm:num_requests_running",
    "waiting": "vllm:num_requests_waiting",
    "kv_cache": "vllm:kv_cache_usage_perc",
}
"""vLLM v0.14 Prometheus metrics (V1 engine). `vllm:gpu_cache_usage_perc` is the deprecated name of
the KV-cache gauge; the EPP v1.5.0 defaults read the same three names."""

ALL_IMAGES = (VLLM_IMAGE, WEIGHTS_IMAGE, EPP_IMAGE)
