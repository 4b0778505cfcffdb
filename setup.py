"""Builds the optional compiled ACD scheduler; all metadata is in setup.cfg.

One extension, callcenter.acd._scheduler_c, from _scheduler_c.pyx and what it includes
(_c_*.pxi) and cimports (_heap.pxd); cythonize follows those, so editing any of them rebuilds.

Without Cython or a C compiler, or if compiling fails, the install still succeeds and
callcenter.acd uses its pure-Python twin (same decisions, slower)."""

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing: the extension is only an accelerator."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # any build failure means "use the twin"
            self.warn(f"callcenter.acd._scheduler_c not built ({exc}); "
                      "the pure-Python scheduler will be used")

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self.warn(f"callcenter.acd._scheduler_c not built ({exc}); "
                      "the pure-Python scheduler will be used")


def extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("warning: Cython is not installed; the pure-Python ACD scheduler will be used")
        return []
    from setuptools import Extension

    ext = Extension("callcenter.acd._scheduler_c", ["callcenter/acd/_scheduler_c.pyx"],
                    extra_compile_args=["-O2"])
    try:
        return cythonize([ext], language_level=3, quiet=True)
    except Exception as exc:  # a Cython error must not break the install
        print(f"warning: cythonize failed ({exc}); the pure-Python ACD scheduler will be used")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
