"""From photos or a video to posed images: frames, structure from motion (pycolmap), writers, generated captures."""
