"""Whether downloads are forbidden, by huggingface_hub's rule, read at each call (its constants read it at import)."""
import os


def offline_setting():
    """The variable that forbids downloads, as set (``'HF_HUB_OFFLINE=1'``), or None.

    huggingface_hub's rule: ``HF_HUB_OFFLINE`` if it is set and not empty, else ``TRANSFORMERS_OFFLINE``; true is
    ``1``, ``ON``, ``YES`` or ``TRUE`` in any case.
    """
    for name in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        value = os.environ.get(name)
        if value:
            return f'{name}={value}' if value.upper() in ('1', 'ON', 'YES', 'TRUE') else None
    return None
