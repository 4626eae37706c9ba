"""Every setting the platform renders is one the pinned LiteLLM release reads.

LiteLLM ignores unknown keys in `general_settings` silently, so a knob from a newer release (or a
typo) would look like a control in the config and do nothing in the pods. The live tests install
the release the image runs (`images.LITELLM_VERSION`); this reads its source for each key.
"""

from __future__ import annotations

import re

import pytest

from llmplatform.gateway import images
from tests.support.livestack.fake_backend import FakeOpenAIBackend
from tests.support.livestack.platform import rendered_gateway


def _quoted_in_source(site_packages, names: set[str]) -> set[str]:
    pattern = re.compile(r"""["'](%s)["']""" % "|".join(map(re.escape, sorted(names))))
    found: set[str] = set()
    for path in (site_packages / "litellm").rglob("*.py"):
        found.update(pattern.findall(path.read_text(errors="replace")))
        if found == names:
            break
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_general_setting_rendered_is_read_by_the_pinned_release(livestack_env, stack):
    assert livestack_env.python.exists()
    with FakeOpenAIBackend() as backend:
        config = rendered_gateway(stack, backend).config
    names = set(config["general_settings"])
    missing = names - _quoted_in_source(livestack_env.site_packages(), names)
    assert not missing, f"LiteLLM {images.LITELLM_VERSION} never reads {sorted(missing)}"


def test_the_check_catches_a_setting_the_release_does_not_know(livestack_env):
    found = _quoted_in_source(livestack_env.site_packages(), {"allow_requests_on_db_unavailable",
                                                              "llmp_no_such_setting"})
    assert found == {"allow_requests_on_db_unavailable"}
