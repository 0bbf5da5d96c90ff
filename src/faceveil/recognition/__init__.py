"""Face embedders: the dlib ResNet reference judge and the one interface other models plug into."""
