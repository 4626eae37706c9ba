"""Physical names: made in llmplatform/naming.py only, checked against their limit, never truncated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform import naming

STACKS = st.from_regex(r"[a-z][a-z0-9]{0,70}", fullmatch=True)


@given(STACKS)
def test_a_name_is_either_whole_or_refused_with_the_name_and_its_limit(stack):
    for make, limit in ((naming.gke_cluster, naming.GKE_CLUSTER_MAX),
                        (lambda s: naming.gke_node_pool(s, "gpu"), naming.GKE_NODE_POOL_MAX),
                        (lambda s: naming.gcp_network(s, "vpc"), naming.GCP_NETWORK_MAX),
                        (lambda s: naming.gcp_service_account_id(s, "budget-backup"), naming.GCP_SERVICE_ACCOUNT_ID[1])):
        try:
            name = make(stack)
        except naming.NameTooLong as err:
            assert stack in str(err) and str(limit) in str(err)
        else:
            assert stack in name and len(name) <= limit


def test_the_service_account_id_states_its_length_and_both_limits():
    assert naming.gcp_service_account_id("prod", "budget-backup") == "llmp-prod-budget-backup"
    with pytest.raises(naming.NameTooLong, match="is 32 characters; it must be 6-30"):
        naming.gcp_service_account_id("stack", "a-role-that-is-long-x")


def test_workload_identity_names_the_pool_and_the_kubernetes_service_account():
    assert naming.gke_workload_pool("acme-llm-prod") == "acme-llm-prod.svc.id.goog"
    assert naming.gke_workload_identity_member("acme-llm-prod", "llm-tenant-gateway", "budget-db") == \
        "serviceAccount:acme-llm-prod.svc.id.goog[llm-tenant-gateway/budget-db]"


def test_the_vast_label_is_the_stack_prefixed_and_refused_past_vasts_limit():
    assert naming.vast_label("vast") == "llmp-vast"
    with pytest.raises(naming.NameTooLong, match="the limit is 256"):
        naming.vast_label("v" * 252)
