"""offline_setting against huggingface_hub's own reading of the variables (its constants, in a fresh process)."""
import json
import subprocess
import sys

import pytest

from sfd_basicsr.utils.offline import offline_setting

CASES = [{}, {'HF_HUB_OFFLINE': '1'}, {'HF_HUB_OFFLINE': 'yes'}, {'HF_HUB_OFFLINE': 'On'}, {'HF_HUB_OFFLINE': '0'},
         {'HF_HUB_OFFLINE': 'no'}, {'TRANSFORMERS_OFFLINE': '1'}, {'TRANSFORMERS_OFFLINE': 'TRUE'},
         {'HF_HUB_OFFLINE': '0', 'TRANSFORMERS_OFFLINE': '1'}, {'HF_HUB_OFFLINE': '', 'TRANSFORMERS_OFFLINE': '1'},
         {'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '0'}]
HUB_READS = '''
import importlib, json, os, sys
import huggingface_hub.constants as constants
answers = []
for case in json.loads(sys.argv[1]):
    for name in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        os.environ.pop(name, None)
    os.environ.update(case)
    answers.append(importlib.reload(constants).HF_HUB_OFFLINE)
print(json.dumps(answers))
'''


@pytest.mark.slow  # a fresh process: huggingface_hub reads the variables once, at import
def test_offline_whenever_huggingface_hub_is_offline(monkeypatch):
    hub = json.loads(subprocess.run([sys.executable, '-c', HUB_READS, json.dumps(CASES)], capture_output=True,
                                    text=True, check=True).stdout)
    ours = []
    for case in CASES:
        for name in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
            monkeypatch.delenv(name, raising=False)
        for name, value in case.items():
            monkeypatch.setenv(name, value)
        ours.append(offline_setting() is not None)
    assert ours == hub, list(zip(CASES, ours, hub))
    assert 0 < sum(hub) < len(CASES), 'the cases cover both answers'


@pytest.mark.parametrize('case, said', [({'HF_HUB_OFFLINE': 'yes'}, 'HF_HUB_OFFLINE=yes'),
                                        ({'TRANSFORMERS_OFFLINE': '1'}, 'TRANSFORMERS_OFFLINE=1')])
def test_names_the_variable_as_set(monkeypatch, case, said):
    for name in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        monkeypatch.delenv(name, raising=False)
    for name, value in case.items():
        monkeypatch.setenv(name, value)
    assert offline_setting() == said
