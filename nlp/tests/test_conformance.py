import pytest

from tfzoo.common.testing.conformance import check_mirrored, check_task, domain_tasks


@pytest.mark.parametrize("name", domain_tasks("nlp"))
def test_task_conforms(name, tmp_path):
    check_task(name, tmp_path)

def test_nlp_tasks_train_mirrored(tmp_path):
    assert set(check_mirrored(domain_tasks("nlp"), tmp_path).values()) == {"ok"}
