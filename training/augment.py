"""Augmentation for faces as they reach a browser, applied to real and fake alike.

Web images are re-encoded, resized, softened and colour-shifted on their way
to a page. The data's sources also differ in exactly these ways (lfw fakes
were saved at another JPEG quality than lfw reals), so a model that is not
shown them at random learns the encoder instead of the face.
"""

import tensorflow as tf


def _maybe(prob, fn, x):
    return tf.cond(tf.random.uniform(()) < prob, lambda: fn(x), lambda: x)


def _jpeg(img, quality_range):
    q = tf.random.uniform((), quality_range[0], quality_range[1] + 1, tf.int32)
    encoded = tf.cast(tf.clip_by_value(tf.round(img), 0, 255), tf.uint8)
    return tf.cast(tf.image.adjust_jpeg_quality(encoded, q), tf.float32)


def _rescale(img, scale_range):
    size = tf.shape(img)[0]
    scale = tf.random.uniform((), scale_range[0], scale_range[1])
    small = tf.maximum(tf.cast(tf.cast(size, tf.float32) * scale, tf.int32), 16)
    down = tf.image.resize(img, (small, small), method="area")
    return tf.image.resize(down, (size, size), method="bilinear")


def _blur(img, sigma_range):
    sigma = tf.random.uniform((), sigma_range[0], sigma_range[1])
    r = tf.range(-2.0, 3.0)
    k1 = tf.exp(-(r**2) / (2 * sigma**2))
    k1 = k1 / tf.reduce_sum(k1)
    kernel = tf.tile((k1[:, None] * k1[None, :])[:, :, None, None], [1, 1, 3, 1])
    padded = tf.pad(img[None], [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT")
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")[0]


def _colour(img):
    x = img / 255.0
    x = tf.image.random_brightness(x, 0.1)
    x = tf.image.random_contrast(x, 0.8, 1.2)
    x = tf.image.random_saturation(x, 0.75, 1.25)
    x = tf.image.random_hue(x, 0.03)
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def _greyscale(img):
    return tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(img))


def augment(img, cfg):
    """One random web-style degradation of a float32 0..255 HxWx3 face crop."""
    img = tf.image.random_flip_left_right(img)
    img = _maybe(cfg.colour_prob, _colour, img)
    if cfg.greyscale_prob:
        img = _maybe(cfg.greyscale_prob, _greyscale, img)
    img = _maybe(cfg.rescale_prob, lambda x: _rescale(x, cfg.rescale_range), img)
    img = _maybe(cfg.blur_prob, lambda x: _blur(x, cfg.blur_sigma), img)
    img = _maybe(cfg.jpeg_prob, lambda x: _jpeg(x, cfg.jpeg_quality), img)
    return img
