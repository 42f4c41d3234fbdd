import pytest

from tfzoo.common.testing.conformance import check_mirrored, check_task, domain_tasks


@pytest.mark.parametrize("name", domain_tasks("speech"))
def test_task_conforms(name, tmp_path):
    check_task(name, tmp_path)

def test_speech_tasks_train_mirrored(tmp_path):
    assert set(check_mirrored(domain_tasks("speech"), tmp_path).values()) == {"ok"}
