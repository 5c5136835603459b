"""torch.nn modules computed by libconvt3d: drop-in replacements for
torch.nn.ConvTranspose3d and torch.nn.Conv3d.

Each subclasses torch's module, so the constructor arguments, parameter shapes, the
initialisation (reset_parameters), state_dict keys, repr and the rules of
forward(input, output_size=...) are PyTorch's own; only the computation is replaced.
A state_dict saved from one loads into the other.
"""
import torch

from . import functional as _F


class ConvTranspose3d(torch.nn.ConvTranspose3d):
    """torch.nn.ConvTranspose3d on libconvt3d (CPU, float32 or float64).

    ConvTranspose3d(in_channels, out_channels, kernel_size, stride=1, padding=0,
                    output_padding=0, groups=1, bias=True, dilation=1,
                    padding_mode='zeros', device=None, dtype=None)

    forward(input, output_size=None): output_size (the spatial size, or the full size
    with batch and channels) picks output_padding exactly as PyTorch does, with its
    ValueError for a size out of range. Only padding_mode='zeros' exists, as in PyTorch
    (ValueError otherwise). Double backward is not supported.
    """

    def forward(self, input, output_size=None):
        if self.padding_mode != "zeros":
            raise ValueError("Only `zeros` padding mode is supported for ConvTranspose3d")
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, 3, self.dilation)
        return _F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                   output_padding, self.groups, self.dilation)


class Conv3d(torch.nn.Conv3d):
    """torch.nn.Conv3d on libconvt3d (CPU, float32 or float64): same constructor,
    initialisation and padding modes ('zeros' in the library; 'reflect', 'replicate' and
    'circular' pad with torch first, as torch.nn.Conv3d does). Double backward is not
    supported."""

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != "zeros":
            padded = torch.nn.functional.pad(input, self._reversed_padding_repeated_twice,
                                             mode=self.padding_mode)
            return _F.conv3d(padded, weight, bias, self.stride, 0, self.dilation,
                             self.groups)
        return _F.conv3d(input, weight, bias, self.stride, self.padding, self.dilation,
                         self.groups)
