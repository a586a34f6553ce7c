#!/usr/bin/env python
"""Install with the README's command: torch first, then `pip install --no-build-isolation .`

basicsr 1.4.2 ships only an sdist whose setup.py imports torch, so it builds against the torch that is
already installed (--no-build-isolation) instead of pulling another one.
"""
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


STARTUP_HOOK = 'sfd_basicsr_pyiqa.pth'  # see sfd_basicsr_pyiqa_hook.py: makes `pyiqa sfd_iqa` work


class BuildWithStartupHook(build_py):
    """Puts the .pth file at the root of the wheel, i.e. into site-packages."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, STARTUP_HOOK), os.path.join(self.build_lib, STARTUP_HOOK))


def read_requirements():
    with open(os.path.join(HERE, 'requirements.txt')) as f:
        return [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]


def read_version():
    scope = {}
    with open(os.path.join(HERE, 'sfd_basicsr', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='sfd_basicsr',
    version=read_version(),
    description='Semantic Feature Discrimination (SFD) for perceptual SR and opinion-unaware NR-IQA, '
    'as a BasicSR plugin',
    long_description=open(os.path.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=('sfd_basicsr', 'sfd_basicsr.*')),
    py_modules=['sfd_basicsr_pyiqa_hook'],
    cmdclass={'build_py': BuildWithStartupHook},
    include_package_data=True,
    package_data={'sfd_basicsr.inference': ['templates/*.html', 'templates/*.css', 'templates/*.js']},  # compare page
    python_requires='>=3.10',
    install_requires=read_requirements(),
    # the comparison page's browser tests drive Debian's chromium (apt-get install chromium chromium-driver)
    extras_require={'test': ['selenium==4.51.0']},
    entry_points={
        'console_scripts': ['basicsr = sfd_basicsr.commands.basicsr_command:main',
                            'sfd-iqa = sfd_basicsr.commands.sfd_iqa_command:main'],
        'pyiqa.archs': ['sfd_iqa = sfd_basicsr_pyiqa_hook:register_arch'],
    },
)
