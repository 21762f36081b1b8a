"""Builds cortexlens._native with CMake (the project's own build, target cortexlens_python only).

Environment: CMAKE_BUILD_PARALLEL_LEVEL (default 2) sets the build's jobs; CORTEXLENS_CMAKE_ARGS adds
configure arguments (space-separated), e.g. -DCORTEXLENS_NATIVE_ARCH=ON.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        build_dir = Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release", "-DCORTEXLENS_PYTHON=ON", "-DCORTEXLENS_BUILD_TESTS=OFF",
            f"-DPython_EXECUTABLE={sys.executable}",
        ] + os.environ.get("CORTEXLENS_CMAKE_ARGS", "").split()
        subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "cortexlens_python", "-j", jobs], check=True)
        built = sorted((build_dir / "python").glob("_native*.so"))
        if not built:
            raise RuntimeError(f"cmake built no _native module in {build_dir / 'python'}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], target)


setup(ext_modules=[CMakeExtension("cortexlens._native")], cmdclass={"build_ext": CMakeBuild})
