"""Suite-wide fixtures: the recording mocks fixture lives in llmplatform.testing.recording."""

from llmplatform.testing.recording import recorder  # noqa: F401 - re-exported fixture
