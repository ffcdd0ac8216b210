"""What both codecs share: the GAN codec base (ESPnet's two turns), the discriminator and
the losses. ESPnet keeps its codecs' shared parts the same way (espnet2/gan_codec/shared)."""
