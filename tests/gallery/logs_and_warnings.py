"""logging.basicConfig and warnings, as library-style scripts use them."""

import logging
import warnings

import numpy as np

logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("trainer")

log.info("starting with %d samples", 10)
warnings.warn("learning rate looks high", UserWarning, stacklevel=1)
with np.errstate(divide="warn"):
    np.log(np.zeros(1))
log.warning("validation loss went up")
logging.debug("not shown at INFO")
print("done")
