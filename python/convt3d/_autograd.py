"""torch.autograd.Functions around the library's passes (imported with the first torch
tensor a call receives).

y = conv_transpose3d(x, w, b):
    grad_x          the backward-data pass (a conv3d of grad_y with w);
    grad_w, grad_b  the backward-weight pass, from x and grad_y;
    grad_b alone    (w not requiring grad): grad_y summed over batch and space.
y = conv3d(x, w, b) is the backward-data pass of the transposed problem T whose input is
y-shaped, whose output is x-shaped and whose weight is w; so
    grad_x = conv_transpose3d(grad_y, w) under T, with the output_padding that gives back
             x's size (conv3d's floor division forgets it; it is always below the stride);
    grad_w = T's backward-weight pass with input grad_y and grad_output x. Both sums run
             over the same (n, position, tap) triples:
                 grad_w[g*Cout_g + co, ci, k] = sum over n, o of grad_y[n, g*Cout_g + co, o]
                                                * x[n, g*Cin_g + ci, o*s - p + k*d],
             which is T's grad_weight[g*CinT_g + ci', c, k] = sum over n, i of
             inputT[n, g*CinT_g + ci', i] * grad_outputT[n, g*CoutT_g + c, i*s - p + k*d]
             with inputT = grad_y, grad_outputT = x, ci' = co, c = ci;
    grad_b = grad_y summed over batch and space.
Only the gradients ctx.needs_input_grad asks for are computed. The Functions save the
caller's tensors (so autograd's check for in-place changes applies) and copy them to
contiguous memory where needed, with autograd not recording. The backward functions are
once_differentiable: differentiating a gradient again raises a RuntimeError.
"""
import torch
from torch.autograd.function import once_differentiable

from . import _ops
from .functional import torch_ready


def _needs_graph(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _bias_sum(go):
    """grad_bias: grad_output summed over everything but its channel dimension."""
    return go.sum(dim=(0, 2, 3, 4) if go.dim() == 5 else (1, 2, 3))


def _shape(t):
    return None if t is None else tuple(t.shape)


class ConvTranspose3dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, code, prm):
        y = _ops.forward(code, torch_ready(x, "input"), torch_ready(w, "weight"),
                         torch_ready(b, "bias"), prm)
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(x if need_w else None, w if need_x else None)
        ctx.code, ctx.prm = code, prm
        ctx.shapes = (_shape(x), _shape(w), _shape(b))
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        x_shape, w_shape, b_shape = ctx.shapes
        go = torch_ready(grad_output, "grad_output")
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = gw = gb = None
        if need_x:
            gx = _ops.backward_data(ctx.code, x_shape, torch_ready(w), b_shape, go, ctx.prm)
        if need_w:
            gw, gb = _ops.backward_weight(ctx.code, torch_ready(x), w_shape, b_shape, go,
                                          ctx.prm, need_b)
        elif need_b:
            gb = _bias_sum(go)
        return gx, gw, gb, None, None


def _transposed_params(x_shape, w_shape, y_shape, prm):
    """conv3d's parameters for its transposed problem: the output_padding per axis that
    makes (o - 1)*s - 2p + d*(k - 1) + op + 1 equal the conv3d input's size."""
    op = []
    for a in range(3):
        i_sz, o_sz, k = x_shape[a - 3], y_shape[a - 3], w_shape[a - 3]
        s, p, d = prm.stride[a], prm.padding[a], prm.dilation[a]
        op.append(i_sz - ((o_sz - 1) * s - 2 * p + d * (k - 1) + 1))
    return prm._replace(output_padding=tuple(op))


class Conv3dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, code, prm):
        y = _ops.conv3d(code, torch_ready(x, "input"), torch_ready(w, "weight"),
                        torch_ready(b, "bias"), prm)
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(x if need_w else None, w if need_x else None)
        ctx.code = code
        ctx.w_shape = tuple(w.shape)
        # The library accepted the call, so x and w have full rank and y 4 or 5 dims.
        ctx.prm_t = _transposed_params(tuple(x.shape), ctx.w_shape, tuple(y.shape), prm)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        go = torch_ready(grad_output, "grad_output")
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = gw = gb = None
        if need_x:
            gx = _ops.forward(ctx.code, go, torch_ready(w), None, ctx.prm_t)
        if need_w:
            gw, _ = _ops.backward_weight(ctx.code, go, ctx.w_shape, None, torch_ready(x),
                                         ctx.prm_t, False)
        if need_b:
            gb = _bias_sum(go)
        return gx, gw, gb, None, None


def conv_transpose3d(x, w, b, code, prm):
    if _needs_graph(x, w, b):
        return ConvTranspose3dFunction.apply(x, w, b, code, prm)
    return _ops.forward(code, torch_ready(x, "input"), torch_ready(w, "weight"),
                        torch_ready(b, "bias"), prm)


def conv3d(x, w, b, code, prm):
    if _needs_graph(x, w, b):
        return Conv3dFunction.apply(x, w, b, code, prm)
    return _ops.conv3d(code, torch_ready(x, "input"), torch_ready(w, "weight"),
                       torch_ready(b, "bias"), prm)
