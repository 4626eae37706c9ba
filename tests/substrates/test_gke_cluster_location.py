"""GkeCluster's cluster shape under recording mocks: regional by default, zonal and Spot when asked."""

from __future__ import annotations

import pytest

from llmplatform.config import ClusterLocation
from substrates.gke.cluster import DATAPATH_PROVIDER, GkeCluster, GkeClusterArgs

ZONES = ("us-central1-c", "us-central1-a")


def cluster_args(**overrides) -> GkeClusterArgs:
    base = dict(stack="t", project="acme-llm-test", region="us-central1", node_zones=ZONES)
    return GkeClusterArgs(**{**base, **overrides})


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_the_default_cluster_is_regional_with_an_on_demand_100_gb_system_node_in_every_zone(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args()))
    cluster, pool = (recorder.inputs(recorder.named(n)) for n in ("gke-cluster", "gke-system-pool"))
    assert cluster["location"] == pool["location"] == "us-central1"
    assert pool["nodeLocations"] == list(ZONES) and pool["nodeCount"] == 1
    assert pool["nodeConfig"]["diskSizeGb"] == 100 and pool["nodeConfig"]["diskType"] == "pd-balanced"
    assert "spot" not in pool["nodeConfig"], "an on-demand pool registers no spot input at all"


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_a_zonal_cluster_and_its_system_pool_sit_in_the_first_node_zone(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args(location=ClusterLocation.ZONAL, system_nodes_per_zone=2)))
    cluster, pool = (recorder.inputs(recorder.named(n)) for n in ("gke-cluster", "gke-system-pool"))
    assert cluster["location"] == pool["location"] == "us-central1-c"
    assert pool["nodeLocations"] == ["us-central1-c"] and pool["nodeCount"] == 2
    assert cluster["datapathProvider"] == DATAPATH_PROVIDER, "Dataplane V2 is chosen at creation either way"
    assert cluster["removeDefaultNodePool"] is True and cluster["name"] == "llmp-t"


def test_the_system_pool_can_be_spot_with_a_smaller_boot_disk(recorder):
    recorder.run(lambda: GkeCluster("gke", cluster_args(system_spot=True, system_disk_size_gb=30,
                                                        system_machine_type="t2d-standard-4")))
    node = recorder.inputs(recorder.named("gke-system-pool"))["nodeConfig"]
    assert node["spot"] is True and node["diskSizeGb"] == 30 and node["machineType"] == "t2d-standard-4"
    assert node["labels"] == {"llmplatform.io/pool": "system"}


def test_the_zonal_shape_changes_no_names(recorder):
    recorder.run(lambda: (GkeCluster("gke", cluster_args()),
                          GkeCluster("gke2", cluster_args(stack="u", location=ClusterLocation.ZONAL, system_spot=True))))
    names = {r.name: recorder.inputs(r).get("name") for r in recorder.registrations}
    assert (names["gke-cluster"], names["gke-system-pool"]) == ("llmp-t", "llmp-t-system")
    assert (names["gke2-cluster"], names["gke2-system-pool"]) == ("llmp-u", "llmp-u-system")
