"""kairos.deploy.validate: strict CRD validation and core-kind validation, offline."""

from __future__ import annotations

from pathlib import Path

from kairos.deploy import validate_documents, validate_manifest


def _crds(shared_brief: Path) -> Path:
    return shared_brief / "k8s-crds"


def _node_pool(**storage_extra: object) -> dict:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaNodePool",
        "metadata": {"name": "pool", "labels": {"strimzi.io/cluster": "kairos"}},
        "spec": {
            "replicas": 1,
            "roles": ["controller", "broker"],
            "storage": {"type": "ephemeral", **storage_extra},
        },
    }


def test_valid_custom_resource_has_no_errors(shared_brief: Path) -> None:
    assert validate_manifest(_node_pool(), _crds(shared_brief)) == []


def test_unknown_field_in_closed_crd_object_is_an_error_only_when_strict(shared_brief: Path) -> None:
    doc = _node_pool(sizee="10Gi")
    errors = validate_manifest(doc, _crds(shared_brief))
    assert len(errors) == 1 and "sizee" in errors[0] and "spec.storage" in errors[0]
    assert validate_manifest(doc, _crds(shared_brief), strict=False) == []


def test_missing_required_crd_field_is_an_error(shared_brief: Path) -> None:
    doc = _node_pool()
    del doc["spec"]["roles"]
    assert any("'roles' is a required property" in e for e in validate_manifest(doc, _crds(shared_brief)))


def test_misspelt_top_level_key_is_an_error(shared_brief: Path) -> None:
    doc = _node_pool()
    doc["specs"] = doc.pop("spec")
    errors = validate_manifest(doc, _crds(shared_brief))
    assert any("specs" in e for e in errors)


def test_preserve_unknown_fields_stays_open(shared_brief: Path) -> None:
    """Kafka's spec.kafka.config is free-form broker configuration."""
    doc = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "Kafka",
        "metadata": {"name": "kairos"},
        "spec": {
            "kafka": {
                "listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}],
                "config": {"any.broker.setting": 1},
            }
        },
    }
    assert validate_manifest(doc, _crds(shared_brief)) == []


def test_core_kind_is_checked_by_kubernetes_schemas(shared_brief: Path) -> None:
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    assert validate_manifest(good, _crds(shared_brief)) == []
    bad = {**good, "dta": {"k": "v"}}
    assert any("dta" in e for e in validate_manifest(bad, _crds(shared_brief)))


def test_unknown_kind_is_reported_not_accepted(shared_brief: Path) -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}}
    assert any("no schema" in e for e in validate_manifest(doc, _crds(shared_brief)))


def test_metadata_checks(shared_brief: Path) -> None:
    doc = _node_pool()
    doc["metadata"]["name"] = "Not_Valid"
    doc["metadata"]["labels"]["replicas"] = 3  # numbers must be quoted
    errors = validate_manifest(doc, _crds(shared_brief))
    assert any("DNS-1123" in e for e in errors)
    assert any("metadata.labels" in e for e in errors)


def test_validate_documents_skips_empty_documents_and_collects_all(shared_brief: Path) -> None:
    errors = validate_documents([None, _node_pool(), _node_pool(bogus=1), "text"], _crds(shared_brief))
    assert len(errors) == 2


def test_quantities_accept_int_or_string_and_check_the_format(shared_brief: Path) -> None:
    doc = _node_pool()
    doc["spec"]["resources"] = {"requests": {"cpu": 1, "memory": "1Gi"}}
    assert validate_manifest(doc, _crds(shared_brief)) == []
    doc["spec"]["resources"]["requests"]["memory"] = "1 GB"
    assert any("memory" in e for e in validate_manifest(doc, _crds(shared_brief)))


def test_core_kind_errors_are_all_collected(shared_brief: Path) -> None:
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replica": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"spec": {"containers": [{"name": "c", "imagee": "x"}]}},
        },
    }
    errors = validate_manifest(doc, _crds(shared_brief))
    assert len(errors) == 2
    assert any("replica" in e for e in errors) and any("imagee" in e for e in errors)
