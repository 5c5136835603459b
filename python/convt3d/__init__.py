"""convt3d: PyTorch's conv_transpose3d (and conv3d) computed by libconvt3d, for numpy
arrays and torch tensors, with autograd.

    import convt3d
    y = convt3d.conv_transpose3d(x, w, b, stride=2, padding=1, output_padding=1)
    layer = convt3d.ConvTranspose3d(16, 8, kernel_size=2, stride=2)   # needs torch

Needs only numpy (torch for tensors and the modules) and the shared library, found at
$CONVT3D_LIBRARY, else the repository's build/libconvt3d.so, else the system's library
path. See README.md, section "Python".
"""
from . import _lib
from .functional import conv3d, conv_transpose3d, get_num_threads, set_num_threads

__version__ = _lib.lib.convt3d_version_string().decode()
library_path = _lib.path

__all__ = ["conv_transpose3d", "conv3d", "ConvTranspose3d", "Conv3d", "set_num_threads",
           "get_num_threads", "__version__", "library_path"]


def __getattr__(name):
    # The modules need torch; import it only when they are asked for.
    if name in ("ConvTranspose3d", "Conv3d"):
        try:
            from . import nn
        except ImportError as e:
            raise ImportError(f"convt3d.{name} needs torch ({e})") from e
        return getattr(nn, name)
    raise AttributeError(f"module 'convt3d' has no attribute {name!r}")
