"""hotelbot: the WhatsApp front desk of a hotel."""

__version__ = "0.1.0"
