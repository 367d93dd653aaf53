# Prints the reference values of tests/common/lut_interpolation_test.cc (RbfCubicTest.ReproducesScipyRbfCubic).
# Run with Debian's python3-scipy: python3 docs/rbf_golden.py
import numpy as np
from scipy.interpolate import Rbf
pts = []
for cin in (8, 24, 40, 56):
    for cout in (16, 48, 80):
        lat = 0.01 + 1e-4 * cin * cout + 0.002 * ((cin * 7 + cout * 13) % 5)
        pts.append((cin, cout, lat))
x = np.array([p[0] for p in pts], float); y = np.array([p[1] for p in pts], float); d = np.array([p[2] for p in pts])
rbf = Rbf(x, y, d, function='cubic')
for q in [(8, 16), (16, 16), (30, 50), (56, 80), (60, 90), (1, 1), (33, 17)]:
    print(q, repr(float(rbf(np.array([q[0]], float), np.array([q[1]], float))[0])))
