"""generative.superres: ESPCN, a residual ESPCN (SRResNet-style) and SRGAN (实例93-96)."""
