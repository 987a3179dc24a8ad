"""hotelbot.flows"""
