"""Faces in photos: detection, five landmarks, alignment onto the model's training framing, paste-back of an edit,
and identity embeddings. Pure numpy, OpenCV and dlib (no torch), so any process can use it.

The models come from dlib's wheel (the HOG detector) and the `face-recognition-models` package: the 5-point
landmark predictor and the ResNet face embedding, both CC0. Its 68-point predictor is never used (its licence
excludes commercial use).
"""
