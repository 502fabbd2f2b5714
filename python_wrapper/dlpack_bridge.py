"""DLPack 0.6 structs in ctypes, and the two crossings between torch and C.

Inputs go in without a copy: ``BorrowedTensor`` describes a live torch
tensor (its data pointer, shape, strides, dtype and device) in a ``DLTensor``
that the library only reads during one call. It holds a reference to the
tensor and to the shape/stride arrays so none of them can go away while the
descriptor exists.

Outputs come back as ``DLManagedTensor *`` owned by the caller.
``managed_tensor_to_torch`` hands one to torch through a PyCapsule named
"dltensor"; from then on torch owns it and calls its deleter exactly once,
when the tensor dies. If torch refuses it, the deleter is called here, so an
output is freed exactly once on every path.

Threading: everything here may be used from any thread; nothing is shared.
"""

import ctypes

import torch

# DLDeviceType values used here (dlpack.h 0.6).
KDL_CPU = 1
KDL_CUDA = 2

# DLDataTypeCode values (dlpack.h 0.6).
KDL_INT = 0
KDL_UINT = 1
KDL_FLOAT = 2
KDL_BFLOAT = 4


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    pass


DLManagedTensorDeleter = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))

DLManagedTensor._fields_ = [
    ("dl_tensor", DLTensor),
    ("manager_ctx", ctypes.c_void_p),
    ("deleter", DLManagedTensorDeleter),
]

DLManagedTensorPointer = ctypes.POINTER(DLManagedTensor)

# torch dtype -> (DLPack code, bits). Only what an IMAGE or MASK can be.
_DTYPE_CODES = {
    torch.float32: (KDL_FLOAT, 32),
    torch.float16: (KDL_FLOAT, 16),
    torch.bfloat16: (KDL_BFLOAT, 16),
    torch.uint8: (KDL_UINT, 8),
}

SUPPORTED_DTYPES = tuple(_DTYPE_CODES)


class BorrowedTensor:
    """A DLTensor that borrows a torch tensor's memory (zero-copy).

    ``tensor`` must have a dtype in SUPPORTED_DTYPES and live on the CPU or
    a CUDA device. Strides and storage offset are described as they are; the
    library honours both. Keep this object alive for as long as the C side
    may read ``pointer``.
    """

    def __init__(self, tensor):
        if tensor.dtype not in _DTYPE_CODES:
            raise ValueError(
                f"cannot describe a {tensor.dtype} tensor in DLPack here "
                f"(expected one of {', '.join(str(d) for d in SUPPORTED_DTYPES)})"
            )
        if tensor.device.type == "cpu":
            device = DLDevice(KDL_CPU, 0)
        elif tensor.device.type == "cuda":
            index = tensor.device.index if tensor.device.index is not None else 0
            device = DLDevice(KDL_CUDA, index)
        else:
            raise ValueError(f"expected a tensor on the CPU or a CUDA device, got {tensor.device}")
        code, bits = _DTYPE_CODES[tensor.dtype]
        ndim = tensor.dim()
        self.tensor = tensor
        self._shape = (ctypes.c_int64 * max(ndim, 1))(*tensor.shape)
        self._strides = (ctypes.c_int64 * max(ndim, 1))(*tensor.stride())
        self.dl_tensor = DLTensor(
            data=tensor.data_ptr(),
            device=device,
            ndim=ndim,
            dtype=DLDataType(code, bits, 1),
            shape=ctypes.cast(self._shape, ctypes.POINTER(ctypes.c_int64)),
            strides=ctypes.cast(self._strides, ctypes.POINTER(ctypes.c_int64)),
            byte_offset=0,
        )

    @property
    def pointer(self):
        """``const DLTensor *`` for the library, valid while self lives."""
        return ctypes.pointer(self.dl_tensor)


# The capsule keeps a pointer to its name, so the name must outlive every
# capsule: a module-level constant does.
_CAPSULE_NAME = b"dltensor"

_PyCapsule_New = ctypes.pythonapi.PyCapsule_New
_PyCapsule_New.restype = ctypes.py_object
_PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]

_PyCapsule_IsValid = ctypes.pythonapi.PyCapsule_IsValid
_PyCapsule_IsValid.restype = ctypes.c_int
_PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]


def free_managed_tensor(managed):
    """Calls the deleter of a ``DLManagedTensor *`` that nobody else owns.

    ``managed`` is a DLManagedTensorPointer (or an address); NULL is a no-op.
    Call this at most once per tensor, and never on one given to torch.
    """
    pointer = ctypes.cast(managed, DLManagedTensorPointer)
    if not pointer:
        return
    deleter = pointer.contents.deleter
    if deleter:
        deleter(pointer)


def managed_tensor_to_torch(managed):
    """Turns an owned ``DLManagedTensor *`` into a torch tensor, zero-copy.

    Ownership moves to the returned tensor (its deleter runs once when the
    tensor is freed). If torch cannot take it, the deleter is called here and
    the error is re-raised, so the caller never frees ``managed`` itself.
    """
    address = ctypes.cast(managed, ctypes.c_void_p).value
    if not address:
        raise RuntimeError("the library returned a NULL output tensor")
    try:
        capsule = _PyCapsule_New(address, _CAPSULE_NAME, None)
    except BaseException:
        free_managed_tensor(managed)
        raise
    try:
        return torch.utils.dlpack.from_dlpack(capsule)
    except BaseException:
        # torch renames a capsule it has consumed ("used_dltensor"); one that
        # still carries our name was never taken, so it is still ours.
        if _PyCapsule_IsValid(capsule, _CAPSULE_NAME):
            free_managed_tensor(managed)
        raise
