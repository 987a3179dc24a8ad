"""hotelbot.whatsapp"""
