#!/usr/bin/env python3
"""Writes the torch_pickle_fuzzer seeds: the data.pkl that torch.save (protocol 2) writes for a
small state_dict, made with the standard pickle module alone (no torch needed):
    tests/fuzz/make_pickle_seeds.py tests/fuzz/corpus/torch_pickle_fuzzer
"""
import collections
import pickle
import sys
import types


def _module(name):
    module = types.ModuleType(name)
    sys.modules[name] = module
    return module


# Stand-ins whose pickled names are torch's: torch.FloatStorage, torch._utils._rebuild_tensor_v2.
torch = _module("torch")
utils = _module("torch._utils")


class FloatStorage:
    pass


class LongStorage:
    pass


def _rebuild_tensor_v2(*args):
    raise NotImplementedError


def _rebuild_parameter(*args):
    raise NotImplementedError


for cls in (FloatStorage, LongStorage):
    cls.__module__ = "torch"
    setattr(torch, cls.__name__, cls)
_rebuild_tensor_v2.__module__ = "torch._utils"
_rebuild_parameter.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2
utils._rebuild_parameter = _rebuild_parameter


class Storage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class Tensor:
    def __init__(self, storage, size, parameter=False):
        self.storage, self.size, self.parameter = storage, size, parameter

    def __reduce__(self):
        stride = []
        step = 1
        for d in reversed(self.size):
            stride.insert(0, step)
            step *= d
        args = (self.storage, 0, tuple(self.size), tuple(stride), False, collections.OrderedDict())
        if not self.parameter:
            return (_rebuild_tensor_v2, args)
        return (_rebuild_parameter, (Tensor(self.storage, self.size), True, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def write(path, state_dict):
    with open(path, "wb") as f:
        Pickler(f, protocol=2).dump(state_dict)


def main(out):
    sd = collections.OrderedDict()
    sd["features.0.weight"] = Tensor(Storage(FloatStorage, "0", 36), [4, 1, 3, 3])
    sd["features.1.weight"] = Tensor(Storage(FloatStorage, "1", 4), [4])
    sd["features.1.num_batches_tracked"] = Tensor(Storage(LongStorage, "2", 1), [])
    sd["classifier.weight"] = Tensor(Storage(FloatStorage, "3", 12), [3, 4], parameter=True)
    write(f"{out}/state_dict.pkl", sd)
    shared = Storage(FloatStorage, "0", 8)
    write(f"{out}/shared_storage.pkl",
          collections.OrderedDict([("a", Tensor(shared, [2, 4])), ("b", Tensor(shared, [8]))]))


if __name__ == "__main__":
    main(sys.argv[1])
