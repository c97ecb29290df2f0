"""Living sources: one fetch-and-land client (:mod:`.client`), a loopback replay server with the
real URL layouts (:mod:`.replay`), and one module or package per source family (:mod:`.sec`)."""
